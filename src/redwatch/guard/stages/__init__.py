"""Built-in guard stages. They are registered as `redwatch.guard_stages` entry points like a
third party's; BUILTIN_STAGES is the same table for code that runs without reinstalling.

Both the table and the stage classes load on first access: importing one stage module (the
CLI's key commands import `auth`) must not pull in every stage's scientific stack."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redwatch.guard.stage import GuardStage
    from redwatch.guard.stages.auth import AuthStage
    from redwatch.guard.stages.detect import DetectStage
    from redwatch.guard.stages.extraction import ExtractionStage
    from redwatch.guard.stages.llm_canary import LlmCanaryStage
    from redwatch.guard.stages.llm_injection import LlmInjectionStage
    from redwatch.guard.stages.llm_output import LlmOutputStage
    from redwatch.guard.stages.llm_redact import LlmRedactStage
    from redwatch.guard.stages.llm_tools import LlmToolsStage
    from redwatch.guard.stages.output import OutputStage
    from redwatch.guard.stages.ratelimit import RateLimitStage
    from redwatch.guard.stages.sanitize import SanitizeStage
    from redwatch.guard.stages.validate import ValidateStage
    from redwatch.guard.stages.watermark import WatermarkStage

    BUILTIN_STAGES: dict[str, type[GuardStage]]

_CLASSES = {
    "AuthStage": "auth",
    "RateLimitStage": "ratelimit",
    "ValidateStage": "validate",
    "SanitizeStage": "sanitize",
    "OutputStage": "output",
    "WatermarkStage": "watermark",
    "ExtractionStage": "extraction",
    "DetectStage": "detect",
    "LlmInjectionStage": "llm_injection",
    "LlmRedactStage": "llm_redact",
    "LlmCanaryStage": "llm_canary",
    "LlmToolsStage": "llm_tools",
    "LlmOutputStage": "llm_output",
}


def __getattr__(name: str) -> Any:
    """Load a stage class, or the BUILTIN_STAGES table (in pipeline order), on first use."""
    if name == "BUILTIN_STAGES":
        table = {cls.name: cls for cls in (__getattr__(c) for c in _CLASSES)}
        globals()[name] = table
        return table
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = cls
    return cls


__all__ = [
    "BUILTIN_STAGES",
    "AuthStage",
    "DetectStage",
    "ExtractionStage",
    "LlmCanaryStage",
    "LlmInjectionStage",
    "LlmOutputStage",
    "LlmRedactStage",
    "LlmToolsStage",
    "OutputStage",
    "RateLimitStage",
    "SanitizeStage",
    "ValidateStage",
    "WatermarkStage",
]
