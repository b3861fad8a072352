"""Chat endpoints over plain HTTP: the transport every HTTP chat target shares (headers with
environment references, one POST, failures mapped to one-line errors, guard refusals mapped
to blocked replies) and `HttpChatTarget`, a chat application with its own JSON API.

The application's request is a JSON template with placeholders; its answer is read with a
JSONPath. Each session has its own httpx client, so cookies, a login token and the session
id stay with one conversation and a new session starts clean."""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx

from redwatch.exceptions import DataError, EndpointError, UsageError, first_line
from redwatch.llm.chat import ChatReply, ChatRequest, Message, ToolCall
from redwatch.targets.chat_base import ChatSetup, ChatTarget
from redwatch.targets.client_state import ClientState
from redwatch.targets.jsonpath import JsonPath, PathMissingError

BLOCKING_STATUSES = frozenset({400, 403, 422, 451})  # with an error body: a refusal
PLACEHOLDERS = ("prompt", "messages", "system", "session_id")
_ENV_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_SLOT = re.compile(r'"\{\{(\w+)\}\}"|\{\{(\w+)\}\}')
# Values with quotes and newlines: a template that survives them survives any message.
_SAMPLE = {
    "prompt": 'a "b"\n',
    "messages": [{"role": "user", "content": 'a "b"\n'}],
    "system": 'a "b"\n',
    "session_id": "0",
}
_HINTS = {401: " (check the API key or the login)", 404: " (check the URL)", 429: " (rate limited)"}


# -- transport shared by the HTTP chat targets -------------------------------------------
def check_url(url: str) -> None:
    """UsageError unless `url` is an http(s) URL with a host."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"chat endpoint URL must start with http:// or https://, not {url!r}")


def expand_env(text: str, what: str, escape: bool = False) -> str:
    """Replace $VAR / ${VAR} with the environment's value (JSON-escaped when `escape`);
    UsageError naming `what` when a variable is not set. Values are never stored."""

    def sub(m: re.Match[str]) -> str:
        """The replacement for one matched placeholder or variable."""
        var = m.group(1) or m.group(2)
        if var not in os.environ:
            raise UsageError(f"{what} refers to ${var}, which is not set")
        value = os.environ[var]
        return json.dumps(value)[1:-1] if escape else value

    return _ENV_REF.sub(sub, text)


def resolve_headers(headers: Mapping[str, str], api_key_env: str | None) -> dict[str, str]:
    """Request headers with environment references filled and the API key (read from
    `api_key_env`) as a Bearer token; only called when a client is opened."""
    out = {"Content-Type": "application/json", "Accept": "application/json"}
    out.update({k: expand_env(v, f"header {k}") for k, v in headers.items()})
    if api_key_env is not None:
        key = os.environ.get(api_key_env)
        if not key:
            raise UsageError(f"environment variable {api_key_env} (API key) is not set")
        out["Authorization"] = f"Bearer {key}"
    return out


def request_json(
    client: httpx.Client, url: str, payload: Any | None, timeout: float
) -> httpx.Response:
    """POST `payload` as JSON (GET when None); EndpointError when the endpoint cannot be
    reached or does not answer in time."""
    try:
        if payload is None:
            return client.get(url)
        return client.post(url, content=json.dumps(payload).encode())
    except httpx.TimeoutException:
        raise EndpointError(f"cannot reach {url}: no answer within {timeout:g}s") from None
    except httpx.TransportError as exc:
        text = first_line(exc, 120)
        detail = "connection refused" if "refused" in text.lower() else text
        raise EndpointError(f"cannot reach {url}: {detail}") from None


def error_message(response: httpx.Response) -> str | None:
    """The one-line message of an error body ({"error": {"message"}}, {"error": "..."},
    {"detail": "..."}, {"message": "..."}), None when there is none."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    for value in (error, body.get("detail"), body.get("message")):
        if isinstance(value, str) and value.strip():
            return first_line(ValueError(value), 200)
    return None


def check_status(url: str, response: httpx.Response) -> ChatReply | None:
    """None for a 2xx answer; a blocked reply for a refusal (HTTP 400/403/422/451 with an
    error body, or any 4xx guard_blocked body: a guard or content filter); EndpointError
    naming URL and status otherwise."""
    if response.is_success:
        return None
    message = error_message(response)
    status = response.status_code
    refused = status in BLOCKING_STATUSES or (status < 500 and _guard_blocked(response))
    if refused and message is not None:
        return ChatReply(blocked=message, finish_reason="blocked")
    hint = _HINTS.get(status, "")
    said = f": {message}" if message else ""
    raise EndpointError(
        f"endpoint {url} answered HTTP {status} {response.reason_phrase}{hint}{said}"
    )


def _guard_blocked(response: httpx.Response) -> bool:
    """True for the redwatch guard's refusal body ({"error": {"type": "guard_blocked"}}),
    whatever 4xx status its policy chose."""
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("type") == "guard_blocked"


def read_json(url: str, response: httpx.Response) -> Any:
    """The answer's JSON document; EndpointError naming the URL when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        snippet = response.text[:40].replace("\n", " ")
        raise EndpointError(
            f"endpoint {url} answered something that is not JSON: {snippet!r}"
        ) from None


# -- the request template ------------------------------------------------------------------
@dataclass(frozen=True)
class ChatTemplate:
    """A JSON request body with placeholders: "{{prompt}}" (the latest user message),
    "{{system}}" (the system message), "{{session_id}}" and "{{messages}}" (the OpenAI
    messages array). A quoted placeholder that is the whole string becomes the JSON value;
    one inside a longer string is filled JSON-escaped."""

    text: str

    def check(self) -> None:
        """UsageError for unknown placeholders, no prompt or messages slot, or a template
        that is not JSON once filled."""
        names = {a or b for a, b in _SLOT.findall(self.text)}
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            known = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
            raise UsageError(
                f"request template: unknown placeholder {{{{{unknown[0]}}}}} ({known})"
            )
        if not names & {"prompt", "messages"}:
            raise UsageError("request template needs {{prompt}} or {{messages}}")
        self.fill(_SAMPLE)

    def render(self, request: ChatRequest, session_id: str, *, stateful: bool) -> Any:
        """The JSON body for `request`; stateful endpoints get only the new messages."""
        messages = new_messages(request.messages) if stateful else list(request.messages)
        values: dict[str, Any] = {
            "prompt": request.last_user,
            "messages": [m.to_openai() for m in messages],
            "system": request.system or "",
            "session_id": session_id,
        }
        return self.fill(values)

    def fill(self, values: Mapping[str, Any]) -> Any:
        """Fill the placeholders in one pass (text from a message is never re-scanned) and
        parse; UsageError naming the template when the result is not JSON."""

        def sub(m: re.Match[str]) -> str:
            """The replacement for one matched placeholder or variable."""
            value = values[m.group(1) or m.group(2)]
            text = json.dumps(value)
            return text if m.group(1) or not isinstance(value, str) else text[1:-1]

        try:
            return json.loads(_SLOT.sub(sub, self.text))
        except ValueError as exc:
            raise UsageError(
                f"request template {self.text[:60]!r} is not valid JSON after filling ({exc})"
            ) from None


def new_messages(messages: tuple[Message, ...]) -> list[Message]:
    """The messages after the last assistant turn: what a stateful endpoint has not seen."""
    last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
    return list(messages[last + 1 :])


@dataclass(frozen=True)
class LoginStep:
    """A login call run at the start of every session. `body` is a JSON template ($VAR /
    ${VAR} read from the environment, {{session_id}}); cookies it sets are kept, and with
    `token_path` the token it answers is sent as "Bearer <token>" in `header`."""

    url: str
    body: str
    token_path: str | None = None
    header: str = "Authorization"

    def payload(self, session_id: str) -> Any:
        """The login body with credentials and the session id filled in."""
        text = expand_env(self.body, "login body", escape=True)
        text = text.replace("{{session_id}}", session_id)
        try:
            return json.loads(text)
        except ValueError:
            raise UsageError(f"login body {self.body[:60]!r} is not valid JSON") from None


# -- the target ------------------------------------------------------------------------------
class HttpChatTarget(ClientState, ChatTarget):
    """A chat application with its own JSON API (a template for the request, a JSONPath for
    the reply and optionally for tool calls), with per-session cookies and login."""

    def __init__(
        self,
        url: str,
        *,
        template: str,
        response_path: str,
        tool_calls_path: str | None = None,
        login: LoginStep | None = None,
        stateful: bool = False,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        name: str | None = None,
        setup: ChatSetup | None = None,
        query_budget: int | None = None,
    ) -> None:
        """Store the endpoint and options; `check()` validates, sessions open on use."""
        super().__init__(name or urlparse(url).netloc or url, setup)
        self.url = url
        self.template = ChatTemplate(template)
        self.response_path = response_path
        self.tool_calls_path = tool_calls_path
        self.login = login
        self.stateful = stateful
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.query_budget = query_budget
        self.session_id = ""
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Validate URL, template, paths and login without sending anything."""
        check_url(self.url)
        self.template.check()
        for path in (self.response_path, self.tool_calls_path):
            if path is not None:
                JsonPath.parse(path)
        if self.login is not None:
            check_url(self.login.url)
            if self.login.token_path is not None:
                JsonPath.parse(self.login.token_path)
        if self.timeout <= 0:
            raise UsageError("timeout must be positive")

    def describe(self) -> dict[str, Any]:
        """Endpoint, paths and header names; never header values, tokens or the template."""
        return {
            **super().describe(),
            "adapter": "http",
            "url": self.url,
            "response_path": self.response_path,
            "tool_calls_path": self.tool_calls_path,
            "stateful": self.stateful,
            "login_url": None if self.login is None else self.login.url,
            "headers": sorted(self.headers),
        }

    # -- sessions ----------------------------------------------------------------------------
    def new_session(self) -> None:
        """Close the current client and open a fresh one: new cookies, session id, login."""
        with self._lock:
            self._close()
            self._open()

    def close(self) -> None:
        """Close the current session's connections."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        """Close the current client (caller holds the lock)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _open(self) -> httpx.Client:
        """Open a client for a new session: fresh cookies and session id, then log in."""
        self.check()
        client = httpx.Client(headers=resolve_headers(self.headers, None), timeout=self.timeout)
        self.session_id = str(uuid.uuid4())
        try:
            if self.login is not None:
                self._log_in(client, self.login)
        except BaseException:
            client.close()
            raise
        self._client = client
        return client

    def _log_in(self, client: httpx.Client, login: LoginStep) -> None:
        """Run the login call; keep its cookies (the client does) and its token."""
        response = request_json(client, login.url, login.payload(self.session_id), self.timeout)
        if not response.is_success:
            raise EndpointError(
                f"login at {login.url} answered HTTP {response.status_code} "
                f"{response.reason_phrase}"
            )
        if login.token_path is None:
            return
        token = _pick(login.url, read_json(login.url, response), login.token_path)
        if not isinstance(token, str) or not token:
            raise EndpointError(f"login at {login.url}: {login.token_path} is not a token string")
        client.headers[login.header] = f"Bearer {token}"

    def _session(self) -> httpx.Client:
        """The current session's client, opening a session on first use."""
        with self._lock:
            return self._client if self._client is not None else self._open()

    # -- one call ---------------------------------------------------------------------------
    def _send(self, request: ChatRequest) -> ChatReply:
        """Fill the template, POST it, and read the reply (or the refusal)."""
        client = self._session()
        payload = self.template.render(request, self.session_id, stateful=self.stateful)
        response = request_json(client, self.url, payload, self.timeout)
        blocked = check_status(self.url, response)
        if blocked is not None:
            return blocked
        return self.parse(read_json(self.url, response))

    def parse(self, document: Any) -> ChatReply:
        """The reply text at `response_path` and tool calls at `tool_calls_path` (absent or
        null: none); EndpointError naming the URL and path when unusable."""
        content = _pick(self.url, document, self.response_path)
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise EndpointError(f"endpoint {self.url} answer at {self.response_path} is not text")
        calls = self._tool_calls(document)
        return ChatReply(content, calls, "tool_calls" if calls else "stop")

    def _tool_calls(self, document: Any) -> tuple[ToolCall, ...]:
        """The tool calls at `tool_calls_path`; none when it is unset, absent or null."""
        if self.tool_calls_path is None:
            return ()
        try:
            raw = JsonPath.parse(self.tool_calls_path).find(document)
        except PathMissingError:
            return ()
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise EndpointError(
                f"endpoint {self.url} answer at {self.tool_calls_path} is not a list"
            )
        try:
            return tuple(_tool_call(c, f"{self.tool_calls_path}[{i}]") for i, c in enumerate(raw))
        except DataError as exc:
            raise EndpointError(f"endpoint {self.url} answered a bad tool call: {exc}") from None


def _pick(url: str, document: Any, path: str) -> Any:
    """The value at `path`; EndpointError naming the URL and the path when it is missing."""
    try:
        return JsonPath.parse(path).find(document)
    except PathMissingError as exc:
        raise EndpointError(f"endpoint {url} answer has no {path} ({exc})") from None


def _tool_call(raw: Any, where: str) -> ToolCall:
    """An OpenAI tool call, or the flat {"name", "arguments", "id"} shape many apps use."""
    if isinstance(raw, Mapping) and "function" not in raw and "name" in raw:
        raw = {"id": raw.get("id", "call_0"), "function": raw}
    return ToolCall.from_openai(raw, where)
