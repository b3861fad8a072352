"""The reference chat app: a small Starlette server around ScriptedAssistant, a TEST DOUBLE
with scripted behaviour (not a language model), so that redwatch's chat targets, probes and
guard proxy have a deterministic, offline endpoint to work against.

Two faces, like real deployments:
- an OpenAI-compatible model endpoint: POST /v1/chat/completions (tools supported, no
  streaming) and GET /v1/models;
- a chat application: POST /api/login (user "demo", password "demo": a "session" cookie
  and a bearer token), then POST /api/chat {"message", "session_id"} with server-side
  history per session and the app's own tools (e-mail, payment, shell, database, all
  fake: nothing is executed), answering {"data": {"reply", "tool_calls"}}.
Every error is a JSON body with one line of message."""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redwatch.demo.chat_brain import MODEL_ID, ScriptedAssistant, reply_id
from redwatch.exceptions import DataError
from redwatch.llm.chat import ChatReply, ChatRequest, Message, ToolCall, ToolSpec

DEMO_USER = ("demo", "demo")
MAX_SESSIONS = 1000  # the oldest session is forgotten past this
MAX_HISTORY = 60  # messages kept per session
MAX_TOOL_ROUNDS = 3  # tool calls the app runs for one message before it answers anyway


def _tool(name: str, description: str, *fields: str) -> ToolSpec:
    """An app tool taking string `fields`."""
    props = {f: {"type": "string"} for f in fields}
    return ToolSpec(name, description, {"type": "object", "properties": props})


APP_TOOLS = (
    _tool("send_email", "Send an e-mail to a customer.", "to", "subject", "body"),
    _tool("transfer_funds", "Pay or refund money.", "recipient", "amount", "memo"),
    _tool("run_command", "Run a shell command on the support server.", "command"),
    _tool("query_orders_db", "Run SQL on the orders database.", "sql"),
)


class ApiError(Exception):
    """An HTTP error answered as {"error": {"message", "type", "code"}}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    """The JSON error body, its message cut to one line."""
    line = (message.strip().splitlines() or ["error"])[0]
    kind = "authentication_error" if status == 401 else "invalid_request_error"
    return JSONResponse({"error": {"message": line, "type": kind, "code": status}}, status)


async def read_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; ApiError 400 naming the problem otherwise."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body: expected a JSON object")
    return body


def _string(body: dict[str, Any], key: str, default: str | None = None) -> str:
    """body[key] as a string; ApiError 400 when missing (without default) or not a string."""
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ApiError(400, f"request.{key}: expected a string")
    return value


class ChatSessions:
    """Login tokens and the server-side history of every (token, session id)."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.histories: OrderedDict[str, list[Message]] = OrderedDict()

    def login(self) -> str:
        """A new session token."""
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return token

    def caller(self, request: Request) -> str:
        """The caller's token from the session cookie or a bearer token; ApiError 401."""
        cookie = request.cookies.get("session")
        if cookie in self.tokens:
            return cookie
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self.tokens:
            return token.strip()
        raise ApiError(401, "login required: POST /api/login, then send the session cookie")

    def history(self, key: str) -> list[Message]:
        """The history of one session (created empty; the oldest session dropped when
        there are too many)."""
        if key not in self.histories:
            self.histories[key] = []
            while len(self.histories) > MAX_SESSIONS:
                self.histories.popitem(last=False)
        self.histories.move_to_end(key)
        return self.histories[key]


def fake_tool_result(call: ToolCall) -> Message:
    """What the app's fake tools answer: success, and nothing is really done."""
    result = json.dumps({"status": "ok", "tool": call.name}, sort_keys=True)
    return Message("tool", result, tool_call_id=call.id, name=call.name)


def agent_turn(bot: ScriptedAssistant, history: list[Message], text: str) -> dict[str, Any]:
    """One user message through the app: the bot may call the app's tools (fake results)
    for a few rounds, then answers; the history grows by everything said."""
    history.append(Message("user", text))
    calls: list[ToolCall] = []
    reply = ChatReply()
    for _ in range(MAX_TOOL_ROUNDS + 1):
        reply = bot.reply(ChatRequest(tuple(history), APP_TOOLS))
        history.append(reply.message())
        if not reply.tool_calls:
            break
        calls.extend(reply.tool_calls)
        history.extend(fake_tool_result(c) for c in reply.tool_calls)
    del history[: max(0, len(history) - MAX_HISTORY)]
    return {"reply": reply.content, "tool_calls": [c.to_openai() for c in calls]}


def build_reference_app(assistant: ScriptedAssistant | None = None) -> Starlette:
    """The reference app around `assistant` (a default ScriptedAssistant when None)."""
    bot = assistant or ScriptedAssistant()
    sessions = ChatSessions()

    async def completions(request: Request) -> Response:
        """OpenAI chat completions, non-streaming."""
        body = await read_object(request)
        if body.get("stream") is True:
            raise ApiError(400, "stream=true is not supported by the reference app")
        try:
            chat = ChatRequest.from_openai(body)
        except DataError as exc:
            raise ApiError(400, str(exc)) from None
        reply = bot.reply(chat)
        return JSONResponse(reply.to_openai(MODEL_ID, reply_id(chat), int(time.time())))

    async def models(request: Request) -> Response:
        """The one model this server has."""
        card = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "redwatch"}
        return JSONResponse({"object": "list", "data": [card]})

    async def healthz(request: Request) -> Response:
        """Liveness, and a reminder of what this server is."""
        return JSONResponse({"status": "ok", "model": MODEL_ID, "kind": "scripted test double"})

    async def login(request: Request) -> Response:
        """user/password in, a session cookie and a bearer token out."""
        body = await read_object(request)
        if (_string(body, "user"), _string(body, "password")) != DEMO_USER:
            raise ApiError(401, "invalid user or password")
        token = sessions.login()
        response = JSONResponse({"token": token})
        response.set_cookie("session", token, httponly=True, samesite="lax")
        return response

    async def chat(request: Request) -> Response:
        """One message of a logged-in session."""
        token = sessions.caller(request)
        body = await read_object(request)
        text = _string(body, "message")
        session_id = _string(body, "session_id", "default")
        history = sessions.history(f"{token}:{session_id}")
        return JSONResponse({"data": agent_turn(bot, history, text)})

    async def api_error(request: Request, exc: Exception) -> Response:
        """ApiError as its JSON body."""
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        """404 / 405 as JSON bodies."""
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/login", login, methods=["POST"]),
            Route("/api/chat", chat, methods=["POST"]),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
    )
