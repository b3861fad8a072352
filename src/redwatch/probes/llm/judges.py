"""The detectors a probe run judges replies with, built once per run and prepared before
their first use. Built-in detectors are imported by module path (so a source checkout works
before its entry points are installed); any other name is looked up in the
`redwatch.llm_detectors` entry-point group. The judge detector asks the target's judge."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

from redwatch.llm.detectors.base import DetectInput, Detector, Verdict
from redwatch.registry import get
from redwatch.targets.chat_base import ChatTarget

GROUP = "redwatch.llm_detectors"
BUILTIN: dict[str, tuple[str, str]] = {
    "canary": ("redwatch.llm.detectors.canary", "CanaryDetector"),
    "pii": ("redwatch.llm.detectors.pii", "PiiDetector"),
    "secrets": ("redwatch.llm.detectors.secrets", "SecretsDetector"),
    "markup": ("redwatch.llm.detectors.markup", "MarkupDetector"),
    "prompt-similarity": ("redwatch.llm.detectors.similarity", "PromptSimilarityDetector"),
    "refusal": ("redwatch.llm.detectors.refusal", "RefusalDetector"),
    "embedding-refusal": ("redwatch.llm.detectors.refusal", "EmbeddingRefusalDetector"),
}


def detector_class(name: str) -> type[Detector]:
    """The detector class registered under `name` (built-ins by module path)."""
    if name in BUILTIN:
        module, attr = BUILTIN[name]
        cls: type[Detector] = getattr(import_module(module), attr)
        return cls
    found: type[Detector] = get(GROUP, name)
    return found


class Judges:
    """Detector instances for one probe run, keyed by name; `judge` (the target's judge
    model, if any) answers the "judge" detector."""

    def __init__(self, judge: ChatTarget | None = None) -> None:
        self.judge = judge
        self._cache: dict[str, Detector] = {}

    @property
    def has_judge(self) -> bool:
        """True when a judge model is configured."""
        return self.judge is not None

    def get(self, name: str) -> Detector:
        """The prepared detector `name`, built on first use."""
        if name not in self._cache:
            if name == "judge":
                from redwatch.llm.detectors.judge import JudgeDetector

                made: Detector = JudgeDetector(None if self.judge is None else self.judge.send)
            else:
                made = detector_class(name)()
            made.prepare()
            self._cache[name] = made
        return self._cache[name]

    def run(self, names: Sequence[str], item: DetectInput) -> list[Verdict]:
        """Every named detector's verdict on one input, in order."""
        return [self.get(name).detect(item) for name in names]
