"""README rows of the always-on service: event ingestion into `redwatch serve`, and the
monitor's drift detectors (false alarms on stationary traffic, delay after a shift)."""

from __future__ import annotations

from _common import load_result, met


def service_rows() -> list[str]:
    """Ingestion: events sent and stored at the target rate (goal: 1,000/s for 60 s, 0 lost)."""
    doc = load_result("service_ingest")["result"]
    return [
        "| service ingestion (`redwatch serve`, "
        f"{doc['database']}) | events sent / stored | rate (goal ≥ 1,000/s for 60 s) "
        "| batch latency p50 / p99 | lost (goal 0) |",
        "|---|---|---|---|---|",
        f"| {doc['batch']} events per POST for {doc['seconds']:.0f} s "
        f"| {doc['sent']:,} / {doc['stored']:,} | {doc['achieved_rate']:,.1f}/s "
        f"| {doc['p50_ms']:.0f} ms / {doc['p99_ms']:.0f} ms "
        f"| {doc['lost']}: {met(doc['lost'] == 0 and doc['achieved_rate'] >= 990)} |",
    ]


def monitor_rows() -> list[str]:
    """Drift detectors side by side: false-alarm rate on stationary windows, and for each
    shift of the balance feature (k standard deviations) the runs that detected it and the
    mean delay in windows."""
    doc = load_result("monitor_drift")
    shifts = sorted({entry["shift_sd"] for entry in doc["summary"]})
    rows = [
        f"| drift detector (windows of {doc['window']}) | false-alarm rate, stationary "
        + "".join(f"| +{k:g} sd: detected, delay " for k in shifts)
        + "|",
        "|---|---|" + "---|" * len(shifts),
    ]
    detectors = list(dict.fromkeys(entry["detector"] for entry in doc["summary"]))
    for name in detectors:
        cells = {e["shift_sd"]: e for e in doc["summary"] if e["detector"] == name}
        alarms = max(e["false_alarm_rate"] for e in cells.values())
        row = f"| {name} | {alarms:.3f} "
        for k in shifts:
            delay = cells[k]["mean_delay"]
            row += f"| {cells[k]['detected']}, {'—' if delay is None else format(delay, '.1f')} "
        rows.append(row + "|")
    return rows
