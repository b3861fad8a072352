"""Turn a chat target reference and its options into a ChatTarget.

An http(s) URL is an OpenAI-compatible base URL, or a generic HTTP chat application when a
request template is given; `package.module:attr` names a Python callable (or a class whose
instances are callable). Options that do not apply to the chosen kind are a UsageError, so
a typo never silently changes what is tested."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redwatch.exceptions import UsageError
from redwatch.targets.chat_base import ChatSetup, ChatTarget
from redwatch.targets.chat_callable import CallableChatTarget
from redwatch.targets.chat_http import HttpChatTarget, LoginStep
from redwatch.targets.chat_openai import OpenAIChatTarget
from redwatch.targets.loading import import_object

_IMPORT_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_HTTP_APP_ONLY = ("response_path", "tool_calls_path", "login_url", "login_body", "token_path")


@dataclass
class ChatOptions:
    """Everything the CLI or redwatch.yaml can say about a chat target."""

    model: str | None = None
    api_key_env: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    response_path: str | None = None
    tool_calls_path: str | None = None
    login_url: str | None = None
    login_body: str | None = None
    token_path: str | None = None
    stateful: bool = False
    timeout: float = 30.0
    query_budget: int | None = None
    name: str | None = None
    accepts_system: bool = True
    system_prompt: str | None = None

    def setup(self) -> ChatSetup:
        """What redwatch may do to the endpoint (attacker and judge are added by the caller)."""
        return ChatSetup(accepts_system=self.accepts_system, system_prompt=self.system_prompt)


def load_chat_target(ref: str, options: ChatOptions) -> ChatTarget:
    """The chat target `ref` names; UsageError for a reference or option that does not fit."""
    if ref.startswith(("http://", "https://")):
        target: ChatTarget = _http_app(ref, options) if options.template else _openai(ref, options)
    elif _IMPORT_REF.match(ref) and not Path(ref).exists():
        target = _callable(ref, options)
    else:
        raise UsageError(
            f"chat target {ref!r} is neither an http(s) URL nor a package.module:attr reference"
        )
    return target


def _openai(url: str, options: ChatOptions) -> OpenAIChatTarget:
    """An OpenAI-compatible target; HTTP-app options are refused."""
    _reject(options, _HTTP_APP_ONLY, "a request template (a generic HTTP chat application)")
    target = OpenAIChatTarget(
        url,
        options.model,
        name=options.name,
        api_key_env=options.api_key_env,
        headers=options.headers,
        timeout=options.timeout,
        setup=options.setup(),
        query_budget=options.query_budget,
    )
    target.check()
    return target


def _http_app(url: str, options: ChatOptions) -> HttpChatTarget:
    """A generic HTTP chat application; the API key goes in a Bearer header."""
    _reject(options, ("model",), "an OpenAI-compatible endpoint (no template)")
    if options.response_path is None:
        raise UsageError("a request template needs a response path (where the reply is)")
    headers = dict(options.headers)
    if options.api_key_env is not None:
        headers["Authorization"] = "Bearer ${" + options.api_key_env + "}"
    target = HttpChatTarget(
        url,
        template=options.template or "",
        response_path=options.response_path,
        tool_calls_path=options.tool_calls_path,
        login=_login(options),
        stateful=options.stateful,
        headers=headers,
        timeout=options.timeout,
        name=options.name,
        setup=options.setup(),
        query_budget=options.query_budget,
    )
    target.check()
    return target


def _login(options: ChatOptions) -> LoginStep | None:
    """The login step from the options (None without a login URL)."""
    if options.login_url is None:
        _reject(options, ("login_body", "token_path"), "a login URL")
        return None
    if options.login_body is None:
        raise UsageError("a login URL needs a login body (a JSON template)")
    return LoginStep(options.login_url, options.login_body, options.token_path)


def _callable(ref: str, options: ChatOptions) -> CallableChatTarget:
    """A callable target from `module:attr` (a class is instantiated first)."""
    unused = (*_HTTP_APP_ONLY, "model", "api_key_env", "template")
    _reject(options, unused, "an HTTP endpoint")
    obj: Any = import_object(ref)
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise UsageError(
                f"{ref}: cannot create an instance without arguments ({exc})"
            ) from None
    if not callable(obj):
        raise UsageError(f"{ref} is not callable; it must take a ChatRequest")
    target = CallableChatTarget(obj, name=options.name or ref, setup=options.setup())
    target.query_budget = options.query_budget
    return target


def _reject(options: ChatOptions, keys: tuple[str, ...], needs: str) -> None:
    """UsageError for the first option set among `keys` (each applies to `needs` only)."""
    for key in keys:
        if getattr(options, key) is not None:
            raise UsageError(f"chat option {key} applies to {needs} only")
