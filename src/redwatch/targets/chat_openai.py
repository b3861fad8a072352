"""An OpenAI-compatible chat-completions endpoint as a target: OpenAI itself and every
server that speaks the same API (vLLM, llama.cpp server, Ollama, the redwatch chat proxy).

One POST to `{base_url}/chat/completions` per call. Failures are one EndpointError line
naming the URL and status; a refusal by a guard or content filter (HTTP 400/403/422/451
with an error body, or finish_reason "content_filter") is a blocked reply, because that is
the defence working, not the endpoint failing. The API key is read from the environment
when the connection opens and is never stored on the target."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import httpx

from redwatch.exceptions import DataError, EndpointError, UsageError
from redwatch.llm.chat import ChatReply, ChatRequest
from redwatch.targets.chat_base import ChatSetup, ChatTarget
from redwatch.targets.chat_http import (
    check_status,
    check_url,
    read_json,
    request_json,
    resolve_headers,
)
from redwatch.targets.client_state import ClientState

_FULL_PATH = "/chat/completions"


class OpenAIChatTarget(ClientState, ChatTarget):
    """A chat-completions endpoint at `base_url` (like http://host:8000/v1). Without a
    model name, the first model `GET {base_url}/models` lists is used."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        name: str | None = None,
        api_key_env: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        setup: ChatSetup | None = None,
        query_budget: int | None = None,
    ) -> None:
        """Store the endpoint and options; nothing is sent until the first call."""
        super().__init__(name or model or urlparse(base_url).netloc or base_url, setup)
        self.base_url = base_url.rstrip("/").removesuffix(_FULL_PATH)
        self.model = model
        self.api_key_env = api_key_env
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.query_budget = query_budget
        self._listed_model: str | None = None
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return self.base_url + _FULL_PATH

    def check(self) -> None:
        """Validate the URL and options without sending anything."""
        check_url(self.base_url)
        if self.timeout <= 0:
            raise UsageError("timeout must be positive")

    def describe(self) -> dict[str, Any]:
        """Endpoint, model and the name of the key's variable; never the key or header
        values."""
        return {
            **super().describe(),
            "adapter": "openai",
            "base_url": self.base_url,
            "model": self.model or self._listed_model,
            "api_key_env": self.api_key_env,
            "headers": sorted(self.headers),
        }

    # -- connection -------------------------------------------------------------------------
    def client(self) -> httpx.Client:
        """The shared client, opened on first use with the resolved headers and key."""
        with self._lock:
            if self._client is None:
                self.check()
                headers = resolve_headers(self.headers, self.api_key_env)
                self._client = httpx.Client(headers=headers, timeout=self.timeout)
            return self._client

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- calls ------------------------------------------------------------------------------
    def resolved_model(self) -> str:
        """The model name: the one given, else the first id `GET /models` lists (asked once)."""
        if self.model is not None:
            return self.model
        if self._listed_model is None:
            self._listed_model = self._first_listed_model()
        return self._listed_model

    def _first_listed_model(self) -> str:
        """The first model id `GET {base_url}/models` lists; EndpointError when none."""
        url = self.base_url + "/models"
        response = request_json(self.client(), url, None, self.timeout)
        if check_status(url, response) is not None or not response.is_success:
            raise EndpointError(f"endpoint {url} refused to list models; pass a model name")
        document = read_json(url, response)
        data = document.get("data") if isinstance(document, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        model = first.get("id") if isinstance(first, dict) else None
        if not isinstance(model, str) or not model:
            raise EndpointError(f"endpoint {url} lists no model id; pass a model name")
        return model

    def _send(self, request: ChatRequest) -> ChatReply:
        """POST the request (with the model filled in) and parse the completion."""
        body = replace(request, model=request.model or self.resolved_model()).to_openai()
        response = request_json(self.client(), self.url, body, self.timeout)
        blocked = check_status(self.url, response)
        if blocked is not None:
            return blocked
        return parse_completion(self.url, read_json(self.url, response))


def parse_completion(url: str, document: Any) -> ChatReply:
    """A chat.completion document as a reply; a provider's content filter becomes a blocked
    reply; EndpointError naming the URL when the document is not a completion."""
    try:
        reply = ChatReply.from_openai(document)
    except DataError as exc:
        raise EndpointError(f"endpoint {url} answered a malformed completion: {exc}") from None
    if reply.finish_reason == "content_filter" and not reply.content and not reply.tool_calls:
        return replace(reply, blocked="the provider's content filter refused the reply")
    return reply
