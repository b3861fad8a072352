#!/usr/bin/env bash
# Red-team the bundled reference chat app (a scripted test double, not a language model):
# serve it on a free port, scan it with every LLM probe on a small query budget, print what
# was found per probe, stop the app.
# Run: bash docs/examples/llm_scan.sh OUT_DIR
set -euo pipefail
out=${1:-llm-scan-example}
mkdir -p "$out"

port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
redwatch llm reference-app --port "$port" >"$out/app.log" 2>&1 &
app=$!
trap 'kill "$app" 2>/dev/null || true' EXIT
for _ in $(seq 300); do  # until /healthz answers (60 s at most)
  python -c 'import sys, urllib.request as rq; rq.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  sleep 0.2
done

# Probe options as for any probe; the MiniLM refusal classifier is left out here to keep the
# example quick (the linear refusal classifier still judges every reply).
cat >"$out/redwatch.yaml" <<'YAML'
probes:
  llm.jailbreak: {embeddings: false}
  llm.escalation: {embeddings: false}
YAML

# Exit code 1: findings at or above --fail-on (what a CI job checks).
code=0
redwatch scan "http://127.0.0.1:$port/v1" --kind chat --name helpbot --budget-queries 200 \
  --config "$out/redwatch.yaml" --format json,html,md --out "$out/report" --fail-on high \
  || code=$?
echo "scan exit code: $code"

python - "$out/report/report.json" <<'PY'
import json, sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
for run in report["probes"]:
    m = run["metrics"]
    print(f"{run['probe']:32} {m.get('successes', 0)}/{m.get('attempts', 0)} attempts succeeded")
for f in report["findings"]:
    refs = ", ".join(r for r in f["references"] if r.startswith("OWASP"))
    print(f"finding [{f['severity']}] {f['title']} ({refs})")
PY
