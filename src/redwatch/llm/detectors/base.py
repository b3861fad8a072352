"""The detector contract. A detector reads one DetectInput and returns a Verdict whose state
is hit, clean or explicitly unscorable (empty reply, judge unreachable, model missing), never
a guess. Keyword-list detectors are marked keyword_only: `decide` never lets them settle an
outcome alone, they can only corroborate a detector that looked at more than words."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from redwatch.llm.chat import ToolCall


class VerdictState(StrEnum):
    """What a detector concluded about one text."""

    HIT = "hit"  # the detector's property is present (a refusal, a leak, an injection …)
    CLEAN = "clean"  # it is absent
    UNSCORABLE = "unscorable"  # the detector could not judge this text (and says why)


@dataclass(frozen=True)
class Verdict:
    """One detector's answer: state, a score in [0, 1] when it has one, a one-line reason,
    and the matched strings (secrets masked by the detector that found them)."""

    detector: str
    state: VerdictState
    score: float | None = None
    reason: str = ""
    matches: tuple[str, ...] = ()
    keyword_only: bool = False

    @property
    def hit(self) -> bool:
        """True when the state is HIT."""
        return self.state is VerdictState.HIT

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for evidence."""
        return {
            "detector": self.detector,
            "state": self.state.value,
            "score": self.score,
            "reason": self.reason,
            "matches": list(self.matches),
            "keyword_only": self.keyword_only,
        }


@dataclass(frozen=True)
class DetectInput:
    """What a detector may read: the text to judge, and the context the caller knows (what
    was asked, the attack's goal, planted canaries, the known system prompt, tool calls)."""

    text: str
    prompt: str = ""
    goal: str = ""
    canaries: tuple[str, ...] = ()
    system_prompt: str | None = None
    tool_calls: tuple[ToolCall, ...] = field(default=())


class Detector(ABC):
    """A declaration (name, description, keyword_only) plus `detect`. Constructors store
    options only; heavy preparation (loading a model, fitting a head) happens in `prepare`,
    called once before the first `detect`."""

    name: ClassVar[str]
    description: ClassVar[str]
    keyword_only: ClassVar[bool] = False

    def prepare(self) -> None:
        """One-off set-up (load weights, fit a classifier head); the default does nothing."""
        return None

    @abstractmethod
    def detect(self, item: DetectInput) -> Verdict:
        """Judge one text."""

    def detect_many(self, items: Sequence[DetectInput]) -> list[Verdict]:
        """Judge many texts; detectors that batch (embeddings) override this."""
        return [self.detect(item) for item in items]

    def verdict(
        self,
        state: VerdictState,
        reason: str = "",
        score: float | None = None,
        matches: Iterable[str] = (),
    ) -> Verdict:
        """A Verdict from this detector."""
        return Verdict(self.name, state, score, reason, tuple(matches), self.keyword_only)

    def unscorable(self, reason: str) -> Verdict:
        """An explicit 'cannot judge this' with the reason."""
        return self.verdict(VerdictState.UNSCORABLE, reason)


def decide(verdicts: Iterable[Verdict]) -> VerdictState:
    """Combine verdicts on one text: HIT when a detector that is not keyword-only hit;
    CLEAN when at least one such detector judged and none hit; UNSCORABLE otherwise (only
    keyword verdicts, or every other detector unscorable). Keyword hits never decide alone."""
    judged = [v for v in verdicts if not v.keyword_only and v.state is not VerdictState.UNSCORABLE]
    if any(v.hit for v in judged):
        return VerdictState.HIT
    return VerdictState.CLEAN if judged else VerdictState.UNSCORABLE
