"""Detectors: judge one text (a reply, or a prompt for input detectors) and say hit, clean
or unscorable. Registered under the `redwatch.llm_detectors` entry point.

`detector_class` is the one lookup every caller uses (probes, guard stages, the bench):
built-ins from BUILTIN — the same table pyproject registers, so a source checkout works
before its entry points are reinstalled — and any other name from the registry."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redwatch.llm.detectors.base import Detector

GROUP = "redwatch.llm_detectors"
BUILTIN: dict[str, str] = {
    "canary": "redwatch.llm.detectors.canary:CanaryDetector",
    "pii": "redwatch.llm.detectors.pii:PiiDetector",
    "secrets": "redwatch.llm.detectors.secrets:SecretsDetector",
    "markup": "redwatch.llm.detectors.markup:MarkupDetector",
    "prompt-similarity": "redwatch.llm.detectors.similarity:PromptSimilarityDetector",
    "judge": "redwatch.llm.detectors.judge:JudgeDetector",
    "keyword-refusal": "redwatch.llm.detectors.keyword:KeywordRefusalDetector",
    "keyword-injection": "redwatch.llm.detectors.keyword:KeywordInjectionDetector",
    "keyword-leak": "redwatch.llm.detectors.keyword:KeywordLeakDetector",
    "keyword-markup": "redwatch.llm.detectors.keyword:KeywordMarkupDetector",
    "refusal": "redwatch.llm.detectors.refusal:RefusalDetector",
    "injection": "redwatch.llm.detectors.injection:InjectionDetector",
    "embedding-refusal": "redwatch.llm.detectors.refusal:EmbeddingRefusalDetector",
    "embedding-injection": "redwatch.llm.detectors.injection:EmbeddingInjectionDetector",
}


def detector_class(name: str) -> type[Detector]:
    """The detector class called `name`: a built-in imported from its module (only that
    module), else the registered plugin (UsageError listing the known names)."""
    if name in BUILTIN:
        module, attr = BUILTIN[name].split(":")
        cls: type[Detector] = getattr(import_module(module), attr)
        return cls
    from redwatch.registry import get

    found: type[Detector] = get(GROUP, name)
    return found
