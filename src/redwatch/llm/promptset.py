"""Prompt sets: the attack prompts of one probe family, shipped as YAML inside the package
(`redwatch/llm/prompts/<family>.yaml`) and validated strictly on load.

Each prompt has an id, the attacker's goal, the text, and the behaviour a safe assistant
shows instead. Placeholders are filled per attempt by `PromptItem.render`: {marker} (a
fresh token whose appearance proves the model obeyed), {canary} (a planted secret), and
any key a probe passes. Indirect-injection items carry the poisoned `document`; multi-turn
items carry scripted `turns` (the first is `prompt`)."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from redwatch.config import first_error
from redwatch.exceptions import DataError

FAMILIES = (
    "direct_injection",
    "indirect_injection",
    "jailbreak",
    "system_prompt_extraction",
    "sensitive_leakage",
    "excessive_agency",
    "insecure_output",
    "escalation",
)
MIN_PROMPTS = 30


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptItem(_Strict):
    """One attack prompt. `tags` name what it tries (e.g. role-play, authority, encoding)."""

    id: str = Field(pattern=r"^[A-Z]{2,4}-\d{3}$")
    goal: str = Field(min_length=5)
    prompt: str = Field(min_length=5)
    expected: str = Field(min_length=5)
    document: str | None = None
    turns: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    def render(self, **values: str) -> PromptItem:
        """A copy with the placeholders in prompt, document and turns filled; a placeholder
        without a value stays as written, so a probe fills only what it knows."""
        fill = _Filler(values)
        return self.model_copy(
            update={
                "prompt": fill(self.prompt),
                "document": None if self.document is None else fill(self.document),
                "turns": [fill(t) for t in self.turns],
            }
        )


class PromptSet(_Strict):
    """A family's prompts, with the family name and what the family tests."""

    family: str
    description: str = Field(min_length=10)
    prompts: list[PromptItem] = Field(min_length=MIN_PROMPTS)


class _Filler:
    """str.format_map that leaves unknown {names} in place and ignores other braces."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def __call__(self, text: str) -> str:
        out = []
        for literal, name, spec, conv in string.Formatter().parse(text):
            out.append(literal)
            if name is None:
                continue
            if name in self.values and not spec and not conv:
                out.append(self.values[name])
            else:
                rest = (f"!{conv}" if conv else "") + (f":{spec}" if spec else "")
                out.append("{" + name + rest + "}")
        return "".join(out)


@cache
def load_family(family: str) -> PromptSet:
    """The packaged prompt set of `family`; DataError naming the file and field when the
    file is malformed (a packaging bug, caught by the tests)."""
    if family not in FAMILIES:
        raise DataError(f"unknown prompt family {family!r}; known: {', '.join(FAMILIES)}")
    name = f"{family}.yaml"
    text = resources.files("redwatch.llm.prompts").joinpath(name).read_text(encoding="utf-8")
    return parse_prompt_set(text, name)


def parse_prompt_set(text: str, source: str) -> PromptSet:
    """Validate YAML text as a PromptSet; ids must be unique within the set."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        prompt_set = PromptSet.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{source}: {first_error(exc)}") from None
    ids = [p.id for p in prompt_set.prompts]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise DataError(f"{source}: prompt id {duplicate} appears twice")
    return prompt_set
