"""Wall time and queries of each demo campaign (what `redwatch demo` runs), per probe.

Run: python bench/bench_demo.py   → bench/results/demo.json
There is no peer here: no other tool runs these campaigns; this records what ours cost.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, write_json
from redwatch.cli.demo_cmd import run_demo
from redwatch.store.repository import Store


def main() -> None:
    """Run the three demo campaigns in a scratch store and record their cost."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        with Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
            rows = run_demo(store, Path(tmp) / "out", seed=0, samples=100)
        total = time.monotonic() - t0
    campaigns = []
    for result, seconds in rows:
        campaigns.append(
            {
                "target": result.target,
                "kind": result.target_kind,
                "wall_s": round(seconds, 2),
                "probe_s": round(sum(p.seconds for p in result.probes), 2),
                "queries": sum(p.queries for p in result.probes),
                "clean_accuracy": result.config.get("clean_accuracy"),
                "findings": result.counts(),
                "probes": [p.to_dict() for p in result.probes],
            }
        )
        print(f"{result.target:22} {seconds:7.1f} s  {campaigns[-1]['queries']:>9,} queries")
    print(f"{'total':22} {total:7.1f} s")
    payload = {
        "benchmark": "demo",
        "machine": machine_info(("redwatch", "torch", "xgboost", "scikit-learn")),
        "total_wall_s": round(total, 2),
        "campaigns": campaigns,
    }
    print(write_json("demo", payload))


if __name__ == "__main__":
    main()
