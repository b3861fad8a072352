"""Built-in guard stages. They are registered as `redwatch.guard_stages` entry points like a
third party's; BUILTIN_STAGES is the same table for code that runs without reinstalling."""

from __future__ import annotations

from redwatch.guard.stage import GuardStage
from redwatch.guard.stages.auth import AuthStage
from redwatch.guard.stages.detect import DetectStage
from redwatch.guard.stages.extraction import ExtractionStage
from redwatch.guard.stages.output import OutputStage
from redwatch.guard.stages.ratelimit import RateLimitStage
from redwatch.guard.stages.sanitize import SanitizeStage
from redwatch.guard.stages.validate import ValidateStage
from redwatch.guard.stages.watermark import WatermarkStage

BUILTIN_STAGES: dict[str, type[GuardStage]] = {
    stage.name: stage
    for stage in (
        AuthStage,
        RateLimitStage,
        ValidateStage,
        SanitizeStage,
        OutputStage,
        WatermarkStage,
        ExtractionStage,
        DetectStage,
    )
}

__all__ = [
    "BUILTIN_STAGES",
    "AuthStage",
    "DetectStage",
    "ExtractionStage",
    "OutputStage",
    "RateLimitStage",
    "SanitizeStage",
    "ValidateStage",
    "WatermarkStage",
]
