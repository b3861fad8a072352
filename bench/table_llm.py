"""README rows of the LLM work: detector precision/recall on the labelled sets in
tests/data/llm next to the keyword baseline of the same task, and the LLM guard's latency
on 512-token prompts (LLM Guard's published figure as the reference)."""

from __future__ import annotations

from typing import Any

from _common import load_result, met

TASKS = {
    "refusal": "refusal (reply refuses)",
    "injection": "prompt injection / jailbreak",
    "pii": "PII in a reply",
    "secrets": "secrets in a reply",
    "markup": "executable markup / SQL / shell",
    "canary": "canary leak (incl. obfuscated)",
    "system_leak": "system prompt reproduced",
}


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def llm_detector_rows() -> list[str]:
    """One row per task: our detectors' P / R (F1) and the keyword baseline's."""
    doc = load_result("llm_detectors")
    rows = [
        "| LLM detector task (labelled set, items) | detector: precision / recall (F1) "
        "| keyword baseline: precision / recall (F1) |",
        "|---|---|---|",
    ]
    for task, label in TASKS.items():
        entries = [q for q in doc["quality"] if q["task"] == task]
        ours = [q for q in entries if not q["baseline"]]
        base = [q for q in entries if q["baseline"]]
        rows.append(
            f"| {label} ({entries[0]['items']}) | "
            + "; ".join(_cell(q) for q in ours)
            + " | "
            + ("; ".join(_cell(q) for q in base) or "no keyword baseline")
            + " |"
        )
    return rows


def _cell(q: dict[str, Any]) -> str:
    unscorable = f", {q['unscorable']} unscorable" if q["unscorable"] else ""
    return (
        f"{q['detector']} {_rate(q['precision'])} / {_rate(q['recall'])} "
        f"({_rate(q['f1'])}{unscorable})"
    )


def llm_guard_rows() -> list[str]:
    """Guard latency per detector and traffic mix, against the p99 goal."""
    doc = load_result("llm_guard")
    goal = doc["goal_p99_ms"]
    ref = doc["reference"]
    rows = [
        f"| LLM guard, {len(doc['stages'])} stages, {doc['prompt_tokens']}-token prompts "
        f"| traffic | p50 | p99 (goal < {goal:g} ms) | blocked |",
        "|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        rows.append(
            f"| injection detector `{r['detector']}` | {r['mix']} | {r['p50_ms']:.1f} ms "
            f"| {r['p99_ms']:.1f} ms: {met(r['p99_ms'] < goal)} | {r['blocked_rate']:.0%} |"
        )
    rows.append(
        f"| {ref['name']} (published, {ref['hardware']}; not run: {ref['why']}) | — "
        f"| {ref['published_ms']:g} ms | — | — |"
    )
    return rows


def llm_probe_rows() -> list[str]:
    """Probe attempts that succeed against the reference app, bare and behind the example
    policy (the guard's coverage of what the probes find)."""
    doc = load_result("llm_guard")["probe_successes"]
    rows = [
        f"| LLM probe vs the reference app ({doc['prompts_per_probe']} prompts a probe at most) "
        "| successful attempts, bare | through the guard (`llm.policy.yaml`) |",
        "|---|---|---|",
    ]
    rows += [f"| `{r['probe']}` | {r['bare']} | {r['guarded']} |" for r in doc["rows"]]
    return rows
