"""A small JSONPath subset for picking predictions out of an endpoint's answer.

Supported: `$` (the whole document), `.key`, `['key']` / `["key"]`, `[n]` (negative counts
from the end) and `[*]` / `.*` (every element; the rest of the path maps over them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redwatch.exceptions import UsageError

_TOKEN = re.compile(
    r"""\.(?P<key>[A-Za-z_][\w\-]*)|\.(?P<star1>\*)|\[(?P<star2>\*)\]|\[(?P<index>-?\d+)\]"""
    r"""|\[(?P<q>['"])(?P<qkey>.*?)(?P=q)\]"""
)


class PathMissingError(LookupError):
    """The document does not contain the path; the message says where it stopped."""


@dataclass(frozen=True)
class JsonPath:
    """A parsed path; `find(document)` returns the value it points at."""

    text: str
    steps: tuple[str | int | None, ...]  # key, index, or None for "every element"

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Parse `text`; UsageError naming the path when it is outside the subset."""
        if not text.startswith("$"):
            raise UsageError(f"response path {text!r} must start with '$'")
        steps: list[str | int | None] = []
        pos = 1
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise UsageError(f"response path {text!r}: cannot read {text[pos:]!r}")
            steps.append(_step(m))
            pos = m.end()
        return cls(text, tuple(steps))

    def find(self, document: object) -> object:
        """The value at this path; PathMissingError when a key or index is absent."""
        return _walk(document, self.steps, "$")


def _step(m: re.Match[str]) -> str | int | None:
    if m.group("key") is not None:
        return m.group("key")
    if m.group("qkey") is not None:
        return m.group("qkey")
    if m.group("index") is not None:
        return int(m.group("index"))
    return None


def _walk(value: object, steps: tuple[str | int | None, ...], where: str) -> object:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if step is None:
        if not isinstance(value, list):
            raise PathMissingError(f"{where} is not a list")
        return [_walk(v, rest, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(step, int):
        if not isinstance(value, list) or not -len(value) <= step < len(value):
            raise PathMissingError(f"{where}[{step}] does not exist")
        return _walk(value[step], rest, f"{where}[{step}]")
    if not isinstance(value, dict) or step not in value:
        raise PathMissingError(f"{where}.{step} does not exist")
    return _walk(value[step], rest, f"{where}.{step}")
