"""LLM detector quality and cost: every detector on its labelled set(s) in tests/data/llm
next to the keyword baseline of the same task (precision, recall, F1, unscorable), and the
per-text latency of the learned detectors and of the MiniLM encoder at 128/256/512 tokens
on one CPU thread. The judge detector is not run (it needs a judge model).

    python bench/bench_llm_detectors.py    # -> bench/results/llm_detectors.json
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import torch

from _common import machine_info, write_json
from redwatch.llm.detectors import detector_class
from redwatch.llm.detectors.base import DetectInput, Detector
from redwatch.llm.detectors.embedding import encode, encoder
from redwatch.llm.detectors.evaluate import load_labelled, score

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "llm"
# task -> (labelled set, detectors, keyword baseline or None)
TASKS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "refusal": ("refusal", ("refusal", "embedding-refusal"), "keyword-refusal"),
    "injection": ("injection", ("injection", "embedding-injection"), "keyword-injection"),
    "pii": ("pii", ("pii",), "keyword-leak"),
    "secrets": ("secrets", ("secrets",), "keyword-leak"),
    "markup": ("markup", ("markup",), "keyword-markup"),
    "canary": ("canary", ("canary",), "keyword-leak"),
    "system_leak": ("system_leak", ("prompt-similarity",), "keyword-leak"),
}
LENGTHS = (128, 256, 512)
REPEATS = {"linear": 200, "embedding": 30}
PROSE = (
    "Our support team reviewed the ticket and found that the invoice was sent to an old "
    "address. The customer asked for a corrected copy, a refund of the late fee and a call "
    "back before Friday. We updated the billing profile, waived the fee and scheduled the "
    "call; the account is now in good standing and no further action is needed. "
)


def detector(name: str) -> Detector:
    """A fresh detector by name."""
    made: Detector = detector_class(name)()
    return made


def quality() -> list[dict[str, Any]]:
    """One row per (task, detector): scores on the task's labelled set, timed."""
    rows = []
    for task, (data, names, baseline) in TASKS.items():
        path = DATA / f"{data}.jsonl"
        if not path.is_file():
            raise SystemExit(f"missing labelled set {path}")
        items = load_labelled(path)
        for name in (*names, *([baseline] if baseline else [])):
            made = detector(name)
            made.prepare()
            start = time.perf_counter()
            scores = score(made, items)
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "task": task,
                    "detector": name,
                    "baseline": name == baseline,
                    "items": len(items),
                    **scores.to_dict(),
                    "ms_per_text": round(1000 * seconds / len(items), 3),
                }
            )
    return rows


def text_of(tokens: int) -> str:
    """English prose of exactly `tokens` MiniLM word pieces."""
    tokenizer = encoder().tokenizer
    ids = tokenizer(PROSE * 40, add_special_tokens=False)["input_ids"][:tokens]
    return str(tokenizer.decode(ids))


def timed(fn: Any, repeats: int) -> dict[str, float]:
    """p50/p99 milliseconds of a zero-argument call (after a warm-up)."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(1000 * (time.perf_counter() - start))
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 3),
        "p99_ms": round(float(np.percentile(samples, 99)), 3),
    }


def latency() -> list[dict[str, Any]]:
    """Per-text cost of the learned detectors and of one MiniLM encode, by text length."""
    rows = []
    for tokens in LENGTHS:
        text = text_of(tokens)
        for name in ("refusal", "injection", "embedding-refusal", "embedding-injection"):
            made = detector(name)
            made.prepare()
            repeats = REPEATS["embedding" if name.startswith("embedding") else "linear"]
            cost = timed(lambda d=made, t=text: d.detect(DetectInput(t)), repeats)
            rows.append({"what": name, "tokens": tokens, **cost})
        cost = timed(lambda t=text: encode([t]), REPEATS["embedding"])
        rows.append({"what": "minilm-encode", "tokens": tokens, **cost})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The quality table as markdown (baselines marked)."""
    lines = [
        "| task | detector | precision | recall | F1 | unscorable | items |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"{r['detector']} (baseline)" if r["baseline"] else r["detector"]
        cells = [_f(r[k]) for k in ("precision", "recall", "f1")]
        lines.append(
            f"| {r['task']} | {name} | {' | '.join(cells)} | {r['unscorable']} | {r['items']} |"
        )
    return "\n".join(lines)


def _f(value: float | None) -> str:
    """Three decimals, or a dash when undefined."""
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    """Measure, write bench/results/llm_detectors.json, print the tables."""
    torch.set_num_threads(1)
    rows = quality()
    timings = latency()
    payload = {
        "quality": rows,
        "latency": timings,
        "latency_note": "one text per call, one CPU thread; MiniLM truncates at 256 word pieces",
        "machine": machine_info(("scikit-learn", "sentence-transformers", "torch", "numpy")),
    }
    path = write_json("llm_detectors", payload)
    print(markdown(rows))
    print()
    print("| what | tokens | p50 ms | p99 ms |\n|---|---|---|---|")
    for t in timings:
        print(f"| {t['what']} | {t['tokens']} | {t['p50_ms']:.2f} | {t['p99_ms']:.2f} |")
    print(f"\nwrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
