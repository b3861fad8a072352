"""llm-canary: refuse replies that leak the system prompt: a planted canary token (also
spaced, dashed, re-cased, base64 or hex encoded, as the canary detector reads it) or a
verbatim run of the system prompt's words. The configured prompt's word runs are indexed
once in check(); a request's own system message is indexed once per distinct text."""

from __future__ import annotations

import os
import re
import threading
from typing import ClassVar

from pydantic import Field

from redwatch.exceptions import DataError, UsageError
from redwatch.guard.lru import LruMap
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)
from redwatch.guard.stages.llm_injection import load_detector
from redwatch.llm.detectors.base import DetectInput, Detector

WORD = re.compile(r"\w+")
MAX_PROMPT_BYTES = 1_000_000
CACHED_PROMPTS = 64


class LlmCanaryOptions(StageOptions):
    """Canaries (literal, or read from environment variables so that a policy file holds
    no secret), the system prompt to protect, and how long a verbatim run must be."""

    canaries: list[str] = Field(default_factory=list)
    canary_env: list[str] = Field(default_factory=list)
    system_prompt_file: str | None = None
    use_request_system: bool = True
    min_run_words: int = Field(default=12, ge=4, le=200)
    status: int = Field(default=403, ge=400, le=499)


def word_runs(text: str, n: int) -> frozenset[str]:
    """Every run of `n` consecutive words of `text` (lower-cased, punctuation dropped)."""
    words = WORD.findall(text.lower())
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def first_run(text: str, runs: frozenset[str], n: int) -> str | None:
    """The first run of `n` words of `text` that is in `runs`, None when there is none."""
    if not runs:
        return None
    words = WORD.findall(text.lower())
    for i in range(len(words) - n + 1):
        run = " ".join(words[i : i + n])
        if run in runs:
            return run
    return None


class LlmCanaryStage(GuardStage):
    """Block a reply that carries a canary token or reproduces a run of the system prompt
    (content and tool-call arguments both count: exfiltration through a tool is a leak)."""

    name: ClassVar[str] = "llm-canary"
    description: ClassVar[str] = (
        "Block chat replies that leak a canary token or a verbatim run of the system prompt."
    )
    options_model: ClassVar[type[StageOptions]] = LlmCanaryOptions
    domain: ClassVar[str] = "chat"
    options: LlmCanaryOptions
    canaries: tuple[str, ...]
    detector: Detector | None
    protected: frozenset[str]
    seen: LruMap[str, frozenset[str]]
    lock: threading.Lock

    def check(self) -> None:
        """Collect the canaries, prepare the canary detector, index the system prompt file;
        UsageError for an unset variable, DataError for an unreadable file."""
        canaries = list(self.options.canaries)
        for variable in self.options.canary_env:
            value = os.environ.get(variable, "").strip()
            if not value:
                raise UsageError(f"stage {self.name}: canary_env: ${variable} is not set")
            canaries.append(value)
        self.canaries = tuple(c for c in canaries if c.strip())
        self.detector = None
        if self.canaries:
            self.detector = load_detector("canary", self.name)
            self.detector.prepare()
        self.protected = word_runs(self._prompt_file(), self.options.min_run_words)
        self.seen = LruMap(CACHED_PROMPTS)
        self.lock = threading.Lock()

    def _prompt_file(self) -> str:
        """The configured system prompt's text ("" without one)."""
        if self.options.system_prompt_file is None:
            return ""
        path = self.context.resolve(self.options.system_prompt_file)
        try:
            if path.stat().st_size > MAX_PROMPT_BYTES:
                raise DataError(f"{path}: system prompt larger than {MAX_PROMPT_BYTES} bytes")
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"stage {self.name}: cannot read {path} ({exc})") from None

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Block a leaking reply; allow everything else (and prediction calls)."""
        reply = response.reply
        if reply is None:
            return Decision.allow()
        text = reply.text()
        if not text:
            return Decision.allow()
        if self.detector is not None:
            verdict = self.detector.detect(DetectInput(text, canaries=self.canaries))
            if verdict.hit:
                return self._block(request, "canary_leak", "reply leaks a canary token")
        run = self._leaked_run(request, text)
        if run is not None:
            words = self.options.min_run_words
            reason = f"reply repeats the system prompt verbatim ({words}+ words)"
            return self._block(request, "system_prompt_leak", reason, run=run[:120])
        return Decision.allow()

    def _leaked_run(self, request: GuardRequest, text: str) -> str | None:
        """A run of the configured or the request's own system prompt found in `text`."""
        n = self.options.min_run_words
        run = first_run(text, self.protected, n)
        if run is not None or not self.options.use_request_system or request.chat is None:
            return run
        system = request.chat.system
        if not system:
            return None
        with self.lock:
            runs = self.seen.get_or_create(system, lambda: word_runs(system, n))
        return first_run(text, runs, n)

    def _block(self, request: GuardRequest, kind: str, reason: str, **data: str) -> Decision:
        """A block with its event."""
        event = self.event(request, kind, Action.BLOCK, reason, **data)
        return Decision.block(reason, self.options.status, (event,))
