"""Guard policy: which stages run, in which order, with which options, read from YAML.

The file is validated with strict pydantic models; every problem becomes one UsageError line
naming the file and the field, e.g. "policy.yaml: stages.1.name: Field required". Stage
options are checked against each stage's own option model when the pipeline is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from redwatch.config import first_error, read_yaml
from redwatch.exceptions import UsageError


class _Strict(BaseModel):
    """Unknown keys are errors, so a typo in a policy is never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StageEntry(_Strict):
    """One stage of the pipeline: its registered name and its options."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        """Allow `options:` with nothing after it (YAML null) as no options."""
        return {} if value is None else value


class Policy(_Strict):
    """A whole guard policy: request stages run top to bottom, response stages bottom to top."""

    version: Literal[1] = 1
    stages: list[StageEntry] = Field(default_factory=list)

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, value: list[StageEntry]) -> list[StageEntry]:
        """A stage appears at most once, so its events and options are unambiguous."""
        seen: set[str] = set()
        for entry in value:
            if entry.name in seen:
                raise ValueError(f"stage {entry.name!r} is listed twice")
            seen.add(entry.name)
        return value

    def stage_names(self) -> list[str]:
        """Names of the stages in request order."""
        return [entry.name for entry in self.stages]


DEFAULT_POLICY: dict[str, Any] = {
    "version": 1,
    "stages": [
        {
            "name": "validate",
            "options": {"max_payload_bytes": 1_048_576, "max_rows": 10_000, "spec_check": "event"},
        },
        {
            "name": "sanitize",
            "options": {"clip": True, "round_integers": True, "snap_categories": True},
        },
        {"name": "output", "options": {"decimals": 4}},
    ],
}


def default_policy() -> Policy:
    """The documented default (docs/guard.md): validate structure and size, record spec
    violations as events, repair inputs onto the spec, round probabilities to 4 decimals."""
    return Policy.model_validate(DEFAULT_POLICY)


def parse_policy(data: Any, source: str = "policy") -> Policy:
    """Validate an already-parsed mapping; `source` names it in the one-line error."""
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a mapping with `stages`, got {type(data).__name__}")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: {first_error(exc)}") from None


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy YAML file; UsageError naming the file and field otherwise."""
    target = Path(path)
    return parse_policy(read_yaml(target), str(target))
