"""Chat targets without a server: the callable target, request-template rendering, how
HTTP answers map to replies, blocked replies and one-line errors, loading from a
reference, and that API keys never reach describe() or a pickled copy."""

from __future__ import annotations

import json
import pickle
import socket
from typing import Any

import httpx
import pytest

from redwatch.exceptions import EndpointError, QueryBudgetExceeded, UsageError
from redwatch.llm.chat import ChatReply, ChatRequest, Message, ToolCall
from redwatch.targets.chat_callable import CallableChatTarget
from redwatch.targets.chat_http import (
    ChatTemplate,
    HttpChatTarget,
    LoginStep,
    check_status,
    read_json,
)
from redwatch.targets.chat_loading import ChatOptions, load_chat_target
from redwatch.targets.chat_openai import OpenAIChatTarget, parse_completion

URL = "http://127.0.0.1:9/v1/chat/completions"
TRICKY = 'say "hi"\nthen {{system}} \\ and ünïcode </script>'


def _request(*texts: str, system: str | None = "be nice") -> ChatRequest:
    head = [Message("system", system)] if system is not None else []
    return ChatRequest(tuple(head + [Message("user", t) for t in texts]))


def _completion(content: str = "", calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class EchoBot:
    """A zero-argument class whose instances answer: what a module:attr class names."""

    def __call__(self, request: ChatRequest) -> str:
        return f"echo: {request.last_user}"


# -- the callable target ---------------------------------------------------------------------
def test_callable_target_accepts_text_dicts_and_replies() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "send_email", "arguments": "{}"}}
    answers: list[Any] = ["plain", _completion("", [call]), ChatReply("as is", model="m")]
    target = CallableChatTarget(lambda request: answers.pop(0), name="fn")
    assert target.send(_request("a")) == ChatReply("plain")
    reply = target.send(_request("b"))
    assert reply.tool_calls == (ToolCall("send_email", {}, "c1"),)
    assert target.send(_request("c")).model == "m"
    assert target.queries == 3
    assert target.describe()["adapter"] == "callable"


def test_callable_target_turns_failures_into_one_line_endpoint_errors() -> None:
    def crash(request: ChatRequest) -> str:
        raise RuntimeError("model exploded\nTraceback (most recent call last): ...")

    with pytest.raises(EndpointError) as info:
        CallableChatTarget(crash, name="agent").send(_request("x"))
    assert str(info.value) == "chat callable agent raised RuntimeError: model exploded"
    with pytest.raises(EndpointError, match="returned int; expected a ChatReply"):
        CallableChatTarget(lambda r: 42, name="agent").send(_request("x"))
    with pytest.raises(EndpointError, match=r"malformed completion: response\.choices: missing"):
        CallableChatTarget(lambda r: {"id": "x"}, name="agent").send(_request("x"))


def test_callable_target_is_metered() -> None:
    target = CallableChatTarget(lambda r: "ok", name="fn")
    target.query_budget = 1
    target.send(_request("x"))
    with pytest.raises(QueryBudgetExceeded):
        target.send(_request("y"))


# -- request templates -----------------------------------------------------------------------
def test_template_escapes_the_prompt_and_never_refills_message_text() -> None:
    template = ChatTemplate('{"q": "{{prompt}}", "ctx": "S={{system}}", "sid": "{{session_id}}"}')
    body = template.render(_request("first", TRICKY), "sid-1", stateful=False)
    assert body == {"q": TRICKY, "ctx": "S=be nice", "sid": "sid-1"}


@pytest.mark.parametrize("slot", ['"{{messages}}"', "{{messages}}"])
def test_template_inserts_the_messages_array_quoted_or_not(slot: str) -> None:
    body = ChatTemplate('{"history": ' + slot + "}").render(
        _request("a", TRICKY), "s", stateful=False
    )
    assert [m["role"] for m in body["history"]] == ["system", "user", "user"]
    assert body["history"][-1]["content"] == TRICKY


def test_stateful_templates_send_only_what_the_server_has_not_seen() -> None:
    talk = (
        Message("system", "s"),
        Message("user", "one"),
        Message("assistant", "reply"),
        Message("user", "two"),
    )
    body = ChatTemplate('{"m": {{messages}}}').render(ChatRequest(talk), "s", stateful=True)
    assert body == {"m": [{"role": "user", "content": "two"}]}


def test_template_that_is_not_json_after_filling_is_a_usage_error_naming_it() -> None:
    template = ChatTemplate('{"message": {{prompt}}}')
    with pytest.raises(UsageError, match=r"request template '\{\"message\": \{\{prompt\}\}\}'"):
        template.render(_request("hello"), "s", stateful=False)
    with pytest.raises(UsageError, match="not valid JSON after filling"):
        template.check()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"m": "{{promt}}"}', r"unknown placeholder \{\{promt\}\}"),
        ('{"sid": "{{session_id}}"}', r"needs \{\{prompt\}\} or \{\{messages\}\}"),
        ('{"m": "{{prompt}}"', "not valid JSON"),
        ('{"m": "history: {{messages}}"}', "not valid JSON after filling"),
    ],
)
def test_bad_templates_are_refused_before_anything_is_sent(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        ChatTemplate(text).check()


def test_login_body_reads_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RW_TEST_PASSWORD", 'p"w')
    step = LoginStep("http://x/login", '{"user": "u", "password": "${RW_TEST_PASSWORD}"}')
    assert step.payload("sid") == {"user": "u", "password": 'p"w'}
    monkeypatch.delenv("RW_TEST_PASSWORD")
    with pytest.raises(UsageError, match=r"login body refers to \$RW_TEST_PASSWORD"):
        step.payload("sid")


# -- mapping answers -------------------------------------------------------------------------
def _answer(status: int, body: Any = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("POST", URL)
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize("status", [400, 403, 422, 451])
def test_a_refusal_with_an_error_body_is_a_blocked_reply(status: int) -> None:
    body = {"error": {"message": "blocked by llm-injection: score 0.97", "code": "x"}}
    reply = check_status(URL, _answer(status, body))
    assert reply == ChatReply(
        blocked="blocked by llm-injection: score 0.97", finish_reason="blocked"
    )
    assert check_status(URL, _answer(status, {"detail": "unsafe\nmore"})) == ChatReply(
        blocked="unsafe", finish_reason="blocked"
    )


def test_a_guard_refusal_is_blocked_whatever_4xx_its_policy_chose() -> None:
    body = {"error": {"message": "blocked by llm-tools: run_shell", "type": "guard_blocked"}}
    assert check_status(URL, _answer(409, body)) == ChatReply(
        blocked="blocked by llm-tools: run_shell", finish_reason="blocked"
    )
    with pytest.raises(EndpointError, match="HTTP 409 Conflict"):
        check_status(URL, _answer(409, {"error": {"message": "conflict", "type": "other"}}))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, None, "HTTP 500 Internal Server Error"),
        (
            401,
            {"error": "bad key"},
            "HTTP 401 Unauthorized (check the API key or the login): bad key",
        ),
        (404, None, "HTTP 404 Not Found (check the URL)"),
        (429, {"error": {"message": "slow down"}}, "HTTP 429 Too Many Requests (rate limited)"),
        (400, None, "HTTP 400 Bad Request"),
        (403, "plain text", "HTTP 403 Forbidden"),
    ],
)
def test_failures_are_endpoint_errors_naming_url_and_status(
    status: int, body: Any, expected: str
) -> None:
    with pytest.raises(EndpointError) as info:
        check_status(URL, _answer(status, body))
    assert str(info.value).startswith(f"endpoint {URL} answered {expected}")
    assert "\n" not in str(info.value)


def test_malformed_answers_are_endpoint_errors_naming_the_url() -> None:
    assert check_status(URL, _answer(200, {})) is None
    with pytest.raises(EndpointError, match=f"endpoint {URL} answered something that is not JSON"):
        read_json(URL, _answer(200, text="<html>oops</html>"))
    with pytest.raises(EndpointError, match=f"endpoint {URL} answered a malformed completion"):
        parse_completion(URL, {"choices": []})
    filtered = {"choices": [{"message": {"role": "assistant"}, "finish_reason": "content_filter"}]}
    assert parse_completion(URL, filtered).blocked is not None


def test_http_app_answers_are_read_at_their_paths() -> None:
    target = HttpChatTarget(
        URL,
        template='{"message": "{{prompt}}"}',
        response_path="$.data.reply",
        tool_calls_path="$.data.tool_calls",
    )
    flat = {"name": "run_shell", "arguments": {"cmd": "ls"}}
    reply = target.parse({"data": {"reply": "done", "tool_calls": [flat]}})
    assert reply.tool_calls == (ToolCall("run_shell", {"cmd": "ls"}),)
    assert reply.finish_reason == "tool_calls"
    assert target.parse({"data": {"reply": "hi"}}) == ChatReply("hi")
    with pytest.raises(EndpointError, match=r"answer has no \$\.data\.reply \(\$\.data\.reply"):
        target.parse({"data": {"text": "hi"}})
    with pytest.raises(EndpointError, match=r"answer at \$\.data\.reply is not text"):
        target.parse({"data": {"reply": 3}})


def test_an_unreachable_url_is_one_line() -> None:
    base = f"http://127.0.0.1:{_free_port()}/v1"
    target = OpenAIChatTarget(base, "m", timeout=5)
    with pytest.raises(EndpointError) as info:
        target.send(_request("hello"))
    assert str(info.value) == f"cannot reach {base}/chat/completions: connection refused"


# -- secrets ---------------------------------------------------------------------------------
def test_api_keys_never_reach_describe_or_a_pickled_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("RW_TEST_KEY", secret)
    monkeypatch.setenv("RW_TEST_TOKEN", "tok-secret-42")
    target = OpenAIChatTarget(
        "http://127.0.0.1:9/v1/",
        "m",
        api_key_env="RW_TEST_KEY",
        headers={"X-Token": "$RW_TEST_TOKEN"},
    )
    assert target.client().headers["Authorization"] == f"Bearer {secret}"
    assert target.client().headers["X-Token"] == "tok-secret-42"
    record = json.dumps(target.describe())
    assert secret not in record
    assert "tok-secret-42" not in record
    assert target.describe()["api_key_env"] == "RW_TEST_KEY"
    assert target.url == "http://127.0.0.1:9/v1/chat/completions"
    copy = pickle.dumps(target)
    assert secret.encode() not in copy
    assert b"tok-secret-42" not in copy
    monkeypatch.delenv("RW_TEST_KEY")
    with pytest.raises(UsageError, match="RW_TEST_KEY"):
        pickle.loads(copy).client()


# -- loading -------------------------------------------------------------------------------
def test_references_load_the_matching_target() -> None:
    base = "http://127.0.0.1:9/v1"
    assert isinstance(load_chat_target(base, ChatOptions(model="m")), OpenAIChatTarget)
    app = load_chat_target(
        "http://127.0.0.1:9/api/chat",
        ChatOptions(
            template='{"message": "{{prompt}}"}',
            response_path="$.reply",
            login_url="http://127.0.0.1:9/api/login",
            login_body='{"user": "demo"}',
            token_path="$.token",
            stateful=True,
        ),
    )
    assert isinstance(app, HttpChatTarget)
    assert app.stateful
    assert app.describe()["login_url"] == "http://127.0.0.1:9/api/login"
    bot = load_chat_target(f"{__name__}:EchoBot", ChatOptions(query_budget=3, name="bot"))
    assert isinstance(bot, CallableChatTarget)
    assert bot.send(_request("hi")).content == "echo: hi"
    assert bot.query_budget == 3


@pytest.mark.parametrize(
    ("ref", "options", "problem"),
    [
        ("ftp://host/v1", ChatOptions(), "neither an http"),
        ("no-such-thing", ChatOptions(), "neither an http"),
        ("http://h/v1", ChatOptions(response_path="$.x"), "response_path applies to a request"),
        ("http://h/x", ChatOptions(template='{"m": "{{prompt}}"}'), "needs a response path"),
        (
            "http://h/x",
            ChatOptions(template='{"m": "{{prompt}}"}', response_path="$.r", login_body="{}"),
            "login_body applies to a login URL",
        ),
        ("http://h/x", ChatOptions(template='{"m": 1}', response_path="$.r"), "needs {{prompt}}"),
        ("json:loads", ChatOptions(model="m"), "model applies to an HTTP endpoint"),
        ("json:__doc__", ChatOptions(), "is not callable"),
        ("functools:partial", ChatOptions(), "cannot create an instance"),
    ],
)
def test_references_and_options_that_do_not_fit_are_usage_errors(
    ref: str, options: ChatOptions, problem: str
) -> None:
    with pytest.raises(UsageError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        load_chat_target(ref, options)
