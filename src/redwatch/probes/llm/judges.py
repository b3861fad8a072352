"""The detectors a probe run judges replies with, built once per run (found through
`redwatch.llm.detectors.detector_class`) and prepared before their first use. The judge
detector asks the target's judge."""

from __future__ import annotations

from collections.abc import Sequence

from redwatch.llm.detectors import detector_class
from redwatch.llm.detectors.base import DetectInput, Detector, Verdict
from redwatch.targets.chat_base import ChatTarget


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
