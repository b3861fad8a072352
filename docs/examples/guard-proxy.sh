#!/usr/bin/env bash
# The guard as a reverse proxy: a bare model server (the upstream) on one port, `redwatch
# guard --upstream` in front of it, calls through it, the upstream gone (502), a clean stop
# (SIGTERM flushes the events into the store); then `redwatch guard --model`, no hop.
# Run: bash docs/examples/guard-proxy.sh OUT_DIR
set -euo pipefail
out=${1:-guard-proxy-example}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

call() {  # call URL [JSON]: POST the JSON (GET without it); print the status and the answer
  python -c 'import sys, urllib.request as rq, urllib.error as er
req = rq.Request(sys.argv[1], sys.argv[2].encode() if sys.argv[2:] else None,
                 {"Content-Type": "application/json"})
try:
    with rq.urlopen(req, timeout=10) as answer: print(answer.status, answer.read().decode())
except er.HTTPError as refused: print(refused.code, refused.read().decode())' "$@"
}

wait_up() {  # wait_up URL: until GET URL answers (60 s at most)
  for _ in $(seq 300); do
    call "$1" >/dev/null 2>&1 && return
    sleep 0.2
  done
  echo "no answer from $1" >&2
  return 1
}

ready_url() {  # ready_url LOG: wait for the guard's ready line in LOG, print its URL
  for _ in $(seq 600); do
    url=$(sed -n 's/^redwatch guard: serving on \(http[^ ]*\) .*/\1/p' "$1")
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}

# A model and its training rows (the guard's reference: InputSpec bounds, detector data).
python - "$out" <<'PY'
import sys
import joblib
import pandas as pd
from redwatch.demo.models import train_credit_gbm

demo = train_credit_gbm(seed=0)
joblib.dump(demo.model, f"{sys.argv[1]}/credit.joblib")
frame = pd.DataFrame(demo.x_train, columns=list(demo.feature_names))
frame.to_csv(f"{sys.argv[1]}/credit.csv", index=False)
PY

# The upstream: any server speaking the protocol; here redwatch's bare model server.
up_port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
python -c 'import sys, joblib, uvicorn
from redwatch.guard.http import model_app
uvicorn.run(model_app(joblib.load(sys.argv[1])), port=int(sys.argv[2]), log_level="warning")' \
  "$out/credit.joblib" "$up_port" &
upstream=$!
pids+=("$upstream")
wait_up "http://127.0.0.1:$up_port/healthz"

# The guard in front of it; --port 0 takes any free port and the ready line names it.
redwatch guard --upstream "http://127.0.0.1:$up_port" --policy "$here/proxy.policy.yaml" \
  --data "$out/credit.csv" --port 0 >"$out/guard.log" 2>&1 &
guard=$!
pids+=("$guard")
url=$(ready_url "$out/guard.log")
head -n 1 "$out/guard.log"

call "$url/predict_proba" '{"instances": [[0, 1200.5, 38000], [1, 2400, 12000]]}'
call "$url/predict_proba" '{"instances": [[0, 1200.5]]}'          # 2 features, not 3: 400
call "$url/predict_proba" '{"instances": [[0, NaN, 38000]]}'      # NaN: 422
call "$url/healthz"
call "$url/metrics" | grep '^redwatch_guard_requests_total'

kill "$upstream" && wait "$upstream" 2>/dev/null || true
call "$url/predict_proba" '{"instances": [[0, 1200.5, 38000]]}'   # upstream gone: 502

kill -TERM "$guard"
code=0
wait "$guard" || code=$?
echo "guard exit code: $code"
tail -n 1 "$out/guard.log"
[ "$code" -eq 0 ]
redwatch guard events --limit 5   # the store of REDWATCH_DB_URL, else under REDWATCH_HOME

# No hop: the guard loads the model file itself (through the pickle scan) and serves it.
redwatch guard --model "$out/credit.joblib" --data "$out/credit.csv" --port 0 \
  >"$out/model.log" 2>&1 &
model=$!
pids+=("$model")
url=$(ready_url "$out/model.log")
head -n 1 "$out/model.log"
call "$url/predict" '{"instances": [[0, 1200.5, 38000], [1, 2400, 12000]]}'
call "$url/healthz"
kill -TERM "$model"
code=0
wait "$model" || code=$?
echo "guard exit code: $code"
[ "$code" -eq 0 ]
