"""The query-pattern view of the evasion bench: would the guard's `extraction` stage notice
an evasion attack from the queries it sends?

redwatch's Square attack (score-based, L∞ eps 0.1) and HopSkipJump (decision-based, L2)
attack five held-out rows of the demo digits logistic regression with 1,000 queries per
row; every row they send is recorded in order and replayed, one row per call, as ONE client
through an `extraction` stage with default options (reference = the training rows), and
through each signal alone. Reported: queries sent, and after how many the client was
flagged, by which signal.

    python bench/bench_guard_queries.py    # -> bench/results/guard_queries.json
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "guard"))

import numpy as np
from _guard_extraction_data import ExtractionCase, digits_case, guarded, replay

from _common import machine_info, print_table, write_json
from redwatch.attacks import hopskipjump, square

ROWS = 5
MAX_QUERIES = 1000
VARIANTS: dict[str, dict[str, Any]] = {
    "both": {},
    "prada_only": {"out_of_reference": False},
    "reference_only": {"prada": False},
}


class Recorder:
    """Wraps a model function and keeps every row it is asked about, in order."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn
        self.batches: list[np.ndarray] = []

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """Record the rows, then answer as the model does."""
        self.batches.append(np.array(rows, dtype=np.float64))
        return self.fn(rows)

    def queries(self) -> np.ndarray:
        """All recorded rows."""
        return np.vstack(self.batches)


def attack_queries(case: ExtractionCase) -> dict[str, tuple[np.ndarray, float]]:
    """The rows Square and HopSkipJump send, and their success rates."""
    model = case.demo.model
    x, y = case.demo.x_test[:ROWS], case.demo.y_test[:ROWS]
    proba = Recorder(model.predict_proba)
    sq = square(proba, x, y, eps=0.1, max_queries=MAX_QUERIES, rng=np.random.default_rng(0))
    labels = Recorder(model.predict)
    hsj = hopskipjump(labels, x, y, max_queries=MAX_QUERIES, rng=np.random.default_rng(0))
    return {
        "square_linf_0.1": (proba.queries(), sq.success_rate),
        "hopskipjump_l2": (labels.queries(), hsj.success_rate),
    }


def main() -> None:
    """Record, replay, write bench/results/guard_queries.json."""
    started = time.perf_counter()
    case = digits_case()
    rows = []
    for name, (queries, success) in attack_queries(case).items():
        for variant, options in VARIANTS.items():
            seen = replay(guarded(case, **options), queries, ["evader.key"])
            first = seen.events[0] if seen.events else None
            rows.append(
                {
                    "attack": name,
                    "variant": variant,
                    "queries_sent": len(queries),
                    "attack_success_rate": round(success, 3),
                    "flagged_at": None if first is None else first[0],
                    "signal": None if first is None else first[1].data["signal"],
                    "statistic": None if first is None else first[1].data["statistic"],
                }
            )
    result = {
        "benchmark": "guard_queries",
        "model": "demo digits logistic regression (seed 0)",
        "rows_attacked": ROWS,
        "max_queries_per_row": MAX_QUERIES,
        "results": rows,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(("numpy", "scipy", "scikit-learn")),
    }
    path = write_json("guard_queries", result)
    print_table(rows, ["attack", "variant", "queries_sent", "attack_success_rate", "flagged_at",
                       "signal", "statistic"])  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
