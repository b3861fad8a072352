#!/usr/bin/env bash
# The LLM guard as a proxy: the reference chat app (a scripted test double, not a language
# model) on one free port, `redwatch guard chat-proxy` with llm.policy.yaml in front of it on
# another, a small scan through the proxy, the guard's block events, both stopped.
# Run: bash docs/examples/llm_guard_proxy.sh OUT_DIR
set -euo pipefail
out=${1:-llm-guard-proxy-example}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

free_port() {  # a port nothing listens on right now
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

wait_up() {  # wait_up URL: until GET URL answers (60 s at most)
  for _ in $(seq 300); do
    python -c 'import sys, urllib.request as rq; rq.urlopen(sys.argv[1], timeout=1)' "$1" \
      2>/dev/null && return
    sleep 0.2
  done
  echo "no answer from $1" >&2
  return 1
}

app_port=$(free_port)
redwatch llm reference-app --port "$app_port" >"$out/app.log" 2>&1 &
app=$!
pids+=("$app")
wait_up "http://127.0.0.1:$app_port/healthz"

# The guard in front of it; its events go to the store `redwatch scan` uses.
proxy_port=$(free_port)
redwatch guard chat-proxy --upstream "http://127.0.0.1:$app_port/v1" \
  --policy "$here/llm.policy.yaml" --port "$proxy_port" >"$out/proxy.log" 2>&1 &
proxy=$!
pids+=("$proxy")
wait_up "http://127.0.0.1:$proxy_port/healthz"
grep 'chat proxy on' "$out/proxy.log"

# A few prompts per probe; the MiniLM refusal classifier is left out to keep it quick.
cat >"$out/redwatch.yaml" <<'YAML'
probes:
  llm.direct_injection: {max_prompts: 6}
  llm.system_prompt_extraction: {max_prompts: 6}
  llm.sensitive_leakage: {max_prompts: 6}
  llm.excessive_agency: {max_prompts: 6}
  llm.insecure_output: {max_prompts: 6}
  llm.jailbreak: {max_prompts: 6, embeddings: false}
YAML

# The application's URL is now the proxy's: scan exactly what its users reach.
code=0
redwatch scan "http://127.0.0.1:$proxy_port/v1" --kind chat --name helpbot \
  --probe llm.direct_injection --probe llm.system_prompt_extraction \
  --probe llm.sensitive_leakage --probe llm.excessive_agency --probe llm.insecure_output \
  --probe llm.jailbreak --config "$out/redwatch.yaml" --format json --out "$out/report" \
  --fail-on high >/dev/null || code=$?
echo "scan through the guard exit code: $code"
python - "$out/report/report.json" <<'PY'
import json, sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
for run in report["probes"]:
    m = run["metrics"]
    print(f"{run['probe']:30} {m['successes']}/{m['attempts']} succeeded", end="")
    print(f", {m.get('blocked', 0)} blocked by the guard")
PY

kill -TERM "$proxy"  # SIGTERM flushes the guard's events into the store
wait "$proxy" || true
tail -n 1 "$out/proxy.log"
redwatch guard events --json --source "guard-chat@127.0.0.1:$proxy_port" --limit 10000 \
  >"$out/events.json"
python - "$out/events.json" <<'PY'
import collections, json, sys

events = json.load(open(sys.argv[1], encoding="utf-8"))
blocks = collections.Counter(e["stage"] for e in events if e["action"] == "block")
by_stage = ", ".join(f"{stage} {n}" for stage, n in blocks.most_common())
print(f"guard block events: {sum(blocks.values())} ({by_stage})")
PY
kill "$app" && wait "$app" 2>/dev/null || true
