"""Artifact scanners side by side: redwatch vs fickling vs modelscan over the same corpus.

Run: python bench/bench_integrity.py   → bench/results/integrity.json
The corpus (tests/integrity_corpus.py) is written fresh into a temporary folder. Each tool
sees every file once per repeat; a file counts as flagged when the tool's own verdict is not
"safe" (redwatch: suspicious or unsafe; fickling: `is_likely_safe` is False; modelscan: one
or more issues). A tool that errors or skips a file has not flagged it. Throughput is corpus
bytes over the best of the repeats' total wall time.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine_info, print_table, write_json
from integrity_corpus import MARKER, build_corpus
from redwatch.integrity.pickle_policy import Verdict
from redwatch.integrity.scan import scan_one

REPEATS = 3
Check = Callable[[Path], tuple[bool, str | None]]


def _redwatch(use_fickling: bool, fickling_all: bool = False) -> Check:
    def check(path: Path) -> tuple[bool, str | None]:
        report = scan_one(path, path.name, use_fickling=use_fickling, fickling_all=fickling_all)
        return report.verdict is not Verdict.SAFE, report.error

    return check


def _fickling(path: Path) -> tuple[bool, str | None]:
    import fickling

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return not fickling.is_likely_safe(str(path)), None
    except Exception as exc:  # fickling raises on content it cannot parse
        return False, f"{type(exc).__name__}: {str(exc)[:80]}"


def _modelscan() -> Check:
    from modelscan.modelscan import ModelScan
    from modelscan.settings import DEFAULT_SETTINGS

    def check(path: Path) -> tuple[bool, str | None]:
        scanner = ModelScan(settings=DEFAULT_SETTINGS)
        with contextlib.redirect_stdout(io.StringIO()):
            result = scanner.scan(path)
        errors = result.get("errors") or []
        skipped = result["summary"].get("skipped", {}).get("total_skipped", 0)
        scanned = result["summary"].get("scanned", {}).get("total_scanned", 0)
        note = "error" if errors else ("not scanned" if not scanned or skipped else None)
        return result["summary"]["total_issues"] > 0, note

    return check


def _run(name: str, check: Check, corpus: dict[str, list[Path]]) -> dict[str, Any]:
    files = [(kind, p) for kind in ("malicious", "benign") for p in corpus[kind]]
    total_bytes = sum(p.stat().st_size for _, p in files)
    best, flags, notes = float("inf"), {}, {}
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _kind, path in files:
            flags[path], notes[path] = check(path)
        best = min(best, time.perf_counter() - start)
    mal, ben = corpus["malicious"], corpus["benign"]
    missed = sorted(p.name for p in mal if not flags[p])
    false_pos = sorted(p.name for p in ben if flags[p])
    return {
        "tool": name,
        "detection_rate": round(1 - len(missed) / len(mal), 4),
        "false_positive_rate": round(len(false_pos) / len(ben), 4),
        "mb_per_s": round(total_bytes / 1e6 / best, 3),
        "seconds": round(best, 3),
        "missed": missed,
        "false_positives": false_pos,
        "errors_or_unscanned": sorted(p.name for _, p in files if notes[p]),
    }


def main() -> None:
    """Build the corpus, run the three tools, print a table and write the JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = build_corpus(root)
        tools: list[tuple[str, Check]] = [
            ("redwatch", _redwatch(True)),
            ("redwatch (own analysis only)", _redwatch(False)),
            ("redwatch (fickling on every stream)", _redwatch(True, fickling_all=True)),
            ("fickling", _fickling),
            ("modelscan", _modelscan()),
        ]
        rows = [_run(name, check, corpus) for name, check in tools]
        marker_created = (root / MARKER).exists()
        sizes = sum(p.stat().st_size for ps in corpus.values() for p in ps)
    print_table(rows, ["tool", "detection_rate", "false_positive_rate", "mb_per_s", "seconds"])
    payload = {
        "benchmark": "integrity",
        "machine": machine_info(("redwatch", "fickling", "modelscan", "torch", "onnx")),
        "corpus": {
            "malicious": len(corpus["malicious"]),
            "benign": len(corpus["benign"]),
            "bytes": sizes,
        },
        "repeats": REPEATS,
        "payload_marker_created": marker_created,
        "tools": rows,
    }
    print(write_json("integrity", payload))


if __name__ == "__main__":
    main()
