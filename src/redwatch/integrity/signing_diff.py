"""Say in one line which files of a model differ from its signed manifest."""

from __future__ import annotations

from pathlib import Path

_SHOWN = 5


def describe_mismatch(
    expected: dict[str, str], actual: dict[str, str], model: Path, *, sharded: bool = False
) -> str:
    """'modified a.bin; extra c.bin; missing sub/b.bin' from two {resource name: digest} maps."""
    want = _by_file(expected, model, sharded)
    have = _by_file(actual, model, sharded)
    parts = []
    modified = sorted(f for f in want.keys() & have.keys() if want[f] != have[f])
    for label, names in (
        ("modified", modified),
        ("extra", sorted(have.keys() - want.keys())),
        ("missing", sorted(want.keys() - have.keys())),
    ):
        if names:
            parts.append(f"{label} {_listing(names)}")
    return "; ".join(parts) or "the manifest differs from the signed one"


def _by_file(resources: dict[str, str], model: Path, sharded: bool) -> dict[str, frozenset[str]]:
    """Group resource digests per file (a shard is named 'path:start:end')."""
    files: dict[str, set[str]] = {}
    for name, digest in resources.items():
        path = name.rsplit(":", 2)[0] if sharded and name.count(":") >= 2 else name
        shown = model.name if path == "." else path
        files.setdefault(shown, set()).add(f"{name}={digest}")
    return {k: frozenset(v) for k, v in files.items()}


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    more = len(names) - _SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown
