"""Guard proxy throughput and latency: the bare model server vs the guard in front of it.

Run: python bench/bench_guard_proxy.py [--duration 10] [--rounds 3]
     → bench/results/guard_proxy.json

Servers (each uvicorn, one worker, on 127.0.0.1):
- direct: `serve.model_app(demo credit GBM)`, the unguarded upstream (its start-up heap
  frozen out of the garbage collector, as the guard freezes its own: otherwise its full
  collections put 20-40 ms outliers into the p99 of direct and proxy alike);
- proxy: `redwatch guard --upstream <direct> --data credit.csv` with the default policy;
- proxy (no stages): the same with an empty policy, to split the HTTP hop from the stages;
- model: `redwatch guard --model credit.joblib --data credit.csv`: the guard serving the
  model itself, no hop.
With --pin, the upstream runs on core 0 and the guards on core 1 (taskset); wrk is never
pinned. Load comes from wrk (a Lua script POSTs one row to /predict_proba) in a separate
process: throughput with `-t1 -c16` (closed loop, so latency there includes queueing) and
latency unloaded with `-t1 -c1` (one request at a time: the service time). Each round
measures every server once; the figures are medians over rounds.

Besides wall-clock figures, the CPU time of every server process (utime + stime from
/proc) is divided by the requests it answered: CPU ms per request. On a machine shared with
other work the wall-clock rate measures the share of the CPU a process got as much as its
speed; CPU per request does not, and 1 / (CPU per request) is what one core can serve. The
`cpu_capacity_ratio` of a proxy is direct CPU / max(proxy CPU, upstream CPU behind it).
Goals: proxy / direct throughput ≥ 0.8 and added p99 latency (unloaded) < 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, print_table, write_json

WRK = shutil.which("wrk") or "/usr/bin/wrk"
REDWATCH = str(Path(sys.executable).with_name("redwatch"))
THROUGHPUT_CONNECTIONS = 16
GOAL_RATIO = 0.8
GOAL_ADDED_P99_MS = 5.0
GUARDS = ("proxy", "proxy-no-stages", "model")
UPSTREAM_SCRIPT = """
import gc, sys, joblib, uvicorn
from redwatch.guard.http.serve import model_app
model = joblib.load(sys.argv[1])  # the benchmark's own file, written just before
gc.collect()
gc.freeze()  # as the guard does when it serves: no 20-40 ms full collections of this heap
uvicorn.run(model_app(model), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", access_log=False)
"""
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
"""


@dataclass
class Server:
    """One server under test: its name, base URL, the command that starts it, and (once
    started) its process id."""

    name: str
    url: str
    command: list[str]
    pid: int = 0
    runs: dict[str, list[dict[str, float]]] = field(
        default_factory=lambda: {"loaded": [], "unloaded": []}
    )


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _pinned(command: list[str], core: int | None) -> list[str]:
    """The command under `taskset -c core` when pinning was asked for and is possible."""
    taskset = shutil.which("taskset")
    return command if core is None or taskset is None else [taskset, "-c", str(core), *command]


def _prepare(folder: Path) -> str:
    """Train the demo credit GBM, save it with its training rows as CSV, write the scripts;
    the request body (one held-out row)."""
    import joblib
    import pandas as pd

    from redwatch.demo.models import train_credit_gbm

    demo = train_credit_gbm(seed=0)
    joblib.dump(demo.model, folder / "credit.joblib")
    frame = pd.DataFrame(demo.x_train, columns=list(demo.feature_names))
    frame.to_csv(folder / "credit.csv", index=False)
    (folder / "empty.policy.yaml").write_text("version: 1\nstages: []\n", encoding="utf-8")
    (folder / "upstream.py").write_text(UPSTREAM_SCRIPT, encoding="utf-8")
    body = json.dumps({"instances": [[round(float(v), 4) for v in demo.x_test[0]]]})
    (folder / "post.lua").write_text(LUA.format(body=body), encoding="utf-8")
    return body


def _servers(folder: Path, pin: bool) -> list[Server]:
    """The four servers, ports chosen now; the direct one first (the proxies need it)."""
    up_core, guard_core = (0, 1) if pin and (os.cpu_count() or 1) >= 2 else (None, None)
    direct = f"http://127.0.0.1:{_free_port()}"
    guard = [REDWATCH, "guard", "--data", str(folder / "credit.csv")]

    def guarded(name: str, *extra: str) -> Server:
        port = _free_port()
        command = [*guard, *extra, "--port", str(port), "--spool", str(folder / name)]
        return Server(name, f"http://127.0.0.1:{port}", _pinned(command, guard_core))

    upstream = [sys.executable, str(folder / "upstream.py"), str(folder / "credit.joblib")]
    empty = str(folder / "empty.policy.yaml")
    return [
        Server("direct", direct, _pinned([*upstream, direct.rsplit(":", 1)[1]], up_core)),
        guarded("proxy", "--upstream", direct),
        guarded("proxy-no-stages", "--upstream", direct, "--policy", empty),
        guarded("model", "--model", str(folder / "credit.joblib")),
    ]


def _post(url: str, body: str) -> dict[str, Any]:
    """POST the body to url/predict_proba; the JSON answer."""
    request = urllib.request.Request(
        f"{url}/predict_proba", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return dict(json.loads(answer.read()))


def _wait_ready(server: Server, proc: subprocess.Popen[bytes], body: str) -> None:
    """Poll until the server answers a prediction; SystemExit when it died or never did."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{server.name} exited with {proc.returncode}")
        try:
            _post(server.url, body)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{server.name} did not answer within 120 s")


@contextmanager
def _running(servers: list[Server], folder: Path, body: str) -> Iterator[None]:
    """Start every server (in order, each ready before the next), stop them all after."""
    env = {**os.environ, "REDWATCH_HOME": str(folder / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("REDWATCH_DB_URL", None)
    with ExitStack() as stack:
        for server in servers:
            proc = subprocess.Popen(
                server.command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            stack.callback(_stop, proc)
            server.pid = proc.pid
            _wait_ready(server, proc, body)
        yield


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when it does not stop within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    """A wrk duration ('812.00us', '1.52ms', '2.01s') in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50/p90/p99 latency (ms), requests and non-2xx answers from wrk --latency."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise ValueError(f"cannot read wrk output:\n{output}")
    result = {"rps": float(rate.group(1)), "requests": float(total.group(1))}
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}(?:\.0+)?%\s+(\S+)", output, re.MULTILINE)
        result[f"p{pct}_ms"] = _ms(found.group(1)) if found else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", output)
    result["non_2xx"] = float(bad.group(1)) if bad else 0.0
    result["socket_errors"] = float(sum(map(int, errors.groups()))) if errors else 0.0
    return result


def _wrk(url: str, lua: Path, connections: int, seconds: float) -> dict[str, float]:
    """One wrk run against url/predict_proba; SystemExit on any answer but 200."""
    command = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    command += ["--latency", "-s", str(lua)]
    done = subprocess.run(
        [*command, f"{url}/predict_proba"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0 or done.stderr.strip():
        raise SystemExit(
            f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[:500]}"
        )
    result = parse_wrk(done.stdout)
    if result["non_2xx"] or result["socket_errors"]:
        raise SystemExit(f"{url}: answers other than 200 under load:\n{done.stdout}")
    return result


def _run(server: Server, upstream: Server, lua: Path, connections: int, seconds: float) -> None:
    """One wrk run, with the CPU ms per request of the server and of the upstream behind it
    (the upstream is the server itself for `direct` and `model`)."""
    pids = {server.pid, upstream.pid}
    before = {pid: _cpu_s(pid) for pid in pids}
    result = _wrk(server.url, lua, connections, seconds)
    used = {pid: _cpu_s(pid) - before[pid] for pid in pids}
    result["cpu_ms_per_request"] = 1e3 * used[server.pid] / result["requests"]
    result["upstream_cpu_ms_per_request"] = 1e3 * used[upstream.pid] / result["requests"]
    result["load_average_1m"] = round(os.getloadavg()[0], 2)  # how shared the machine was
    server.runs["loaded" if connections > 1 else "unloaded"].append(result)


def _measure(servers: list[Server], lua: Path, rounds: int, seconds: float) -> None:
    """Warm every server up, then per round: throughput (c16) and unloaded latency (c1)."""
    direct = servers[0]
    for server in servers:
        _wrk(server.url, lua, THROUGHPUT_CONNECTIONS, 2)
    for k in range(rounds):
        for server in servers:
            upstream = direct if server.name.startswith("proxy") else server
            _run(server, upstream, lua, THROUGHPUT_CONNECTIONS, seconds)
            _run(server, upstream, lua, 1, max(seconds / 2, 2))
            loaded, unloaded = server.runs["loaded"][-1], server.runs["unloaded"][-1]
            print(
                f"round {k + 1}/{rounds} {server.name:16} {loaded['rps']:8.0f} req/s  "
                f"{loaded['cpu_ms_per_request']:5.2f} CPU ms/req  "
                f"p99 {unloaded['p99_ms']:6.2f} ms (c1)",
                flush=True,
            )


def _median(rows: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 3)


def _summary(server: Server) -> dict[str, Any]:
    """Medians over rounds of one server's figures."""
    loaded, unloaded = server.runs["loaded"], server.runs["unloaded"]
    return {
        "server": server.name,
        "rps": _median(loaded, "rps"),
        "cpu_ms_per_request": _median(loaded, "cpu_ms_per_request"),
        "upstream_cpu_ms_per_request": _median(loaded, "upstream_cpu_ms_per_request"),
        "p50_ms": _median(loaded, "p50_ms"),
        "p99_ms": _median(loaded, "p99_ms"),
        "unloaded_p50_ms": _median(unloaded, "p50_ms"),
        "unloaded_p99_ms": _median(unloaded, "p99_ms"),
        "rounds": server.runs,
    }


def _compare(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Throughput ratios, CPU capacity ratios and added latency of each guard against the
    direct server."""
    direct = rows["direct"]
    out: dict[str, Any] = {}
    for name in GUARDS:
        row = rows[name]
        busiest = max(row["cpu_ms_per_request"], row["upstream_cpu_ms_per_request"])
        out[name] = {
            "throughput_ratio": round(row["rps"] / direct["rps"], 3),
            "cpu_capacity_ratio": round(direct["cpu_ms_per_request"] / busiest, 3),
            "added_p50_ms_unloaded": round(row["unloaded_p50_ms"] - direct["unloaded_p50_ms"], 3),
            "added_p99_ms_unloaded": round(row["unloaded_p99_ms"] - direct["unloaded_p99_ms"], 3),
            "added_p99_ms_loaded": round(row["p99_ms"] - direct["p99_ms"], 3),
        }
    proxy = out["proxy"]
    out["goals"] = {
        "throughput_ratio_at_least": GOAL_RATIO,
        "throughput_ratio_met": proxy["throughput_ratio"] >= GOAL_RATIO,
        "added_p99_ms_below": GOAL_ADDED_P99_MS,
        "added_p99_met": proxy["added_p99_ms_unloaded"] < GOAL_ADDED_P99_MS,
    }
    return out


def _check_answers(servers: list[Server], body: str) -> dict[str, Any]:
    """Every server gives the same probabilities for the benchmark row (up to the guard's
    4-decimal rounding); SystemExit otherwise, since a fast wrong answer is no result."""
    answers = {s.name: _post(s.url, body)["probabilities"][0] for s in servers}
    reference = answers["direct"]
    for name, proba in answers.items():
        if max(abs(a - b) for a, b in zip(proba, reference, strict=True)) > 1e-4:
            raise SystemExit(f"{name} answers {proba}, direct {reference}")
    return answers


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per loaded run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pin", action="store_true", help="upstream on core 0, guards on 1")
    return parser.parse_args()


def main() -> None:
    """Start the servers, check their answers, load them with wrk, write the JSON."""
    args = _arguments()
    if not Path(WRK).is_file():
        raise SystemExit(f"wrk not found at {WRK} (Debian: apt-get install wrk)")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        body = _prepare(folder)
        servers = _servers(folder, args.pin)
        with _running(servers, folder, body):
            answers = _check_answers(servers, body)
            _measure(servers, folder / "post.lua", args.rounds, args.duration)
    rows = {s.name: _summary(s) for s in servers}
    columns = ["server", "rps", "cpu_ms_per_request", "p99_ms", "unloaded_p50_ms"]
    print_table(list(rows.values()), [*columns, "unloaded_p99_ms"])
    comparison = _compare(rows)
    print(json.dumps(comparison, indent=2))
    payload = {
        "benchmark": "guard_proxy",
        "machine": machine_info(("redwatch", "uvicorn", "starlette", "httpx", "h11", "xgboost")),
        "command": "python bench/bench_guard_proxy.py "
        f"--duration {args.duration:g} --rounds {args.rounds}" + (" --pin" if args.pin else ""),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "load": {
            "tool": "wrk -t1 --timeout 10s --latency, POST one row to /predict_proba",
            "throughput_connections": THROUGHPUT_CONNECTIONS,
            "latency_connections": 1,
            "duration_s": args.duration,
            "rounds": args.rounds,
        },
        "pinning": "upstream on core 0, guards on core 1 (taskset); wrk not pinned"
        if args.pin
        else "none",
        "model": "demo credit GBM (XGBoost, train_credit_gbm(seed=0)), one row per request",
        "answers": answers,
        "servers": rows,
        "comparison": comparison,
    }
    print(write_json("guard_proxy", payload))


if __name__ == "__main__":
    main()
