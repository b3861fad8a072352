#!/usr/bin/env bash
# A surrogate stolen through the guarded API, proven ours from the guard's watermark records;
# an independently trained model is not claimed (exit code 1).
set -euo pipefail
out="$1"
mkdir -p "$out"
redwatch ip keygen --out "$out/owner.key"
python "$(dirname "$0")/ip_api_theft.py" "$out"

redwatch ip verify-api "$out/surrogate.joblib" --key "$out/owner.key" \
  --log "$out/watermark-events.jsonl" --out "$out/certificate.json" --report "$out/report.md"

status=0
redwatch ip verify-api "$out/independent.joblib" --key "$out/owner.key" \
  --log "$out/watermark-events.jsonl" || status=$?
echo "independent model: exit code $status"
