#!/usr/bin/env bash
# Virtual patching with the CLI: scan a model, turn its findings into a guard policy, replay
# the recorded attacks through that policy, then require an API key.
# Run: bash docs/examples/guard-patch.sh OUT_DIR
set -euo pipefail
out=${1:-redwatch-example}
mkdir -p "$out"
python - "$out" <<'PY'
import sys
import joblib
import pandas as pd
from redwatch.demo.models import train_digits_logreg

out = sys.argv[1]
demo = train_digits_logreg(seed=0)
joblib.dump(demo.model, f"{out}/digits.joblib")
columns = list(demo.feature_names)
test = pd.DataFrame(demo.x_test, columns=columns).assign(digit=demo.y_test)
test.to_csv(f"{out}/digits-test.csv", index=False)
pd.DataFrame(demo.x_train, columns=columns).to_csv(f"{out}/digits-clean.csv", index=False)
PY
redwatch scan "$out/digits.joblib" --data "$out/digits-test.csv" --label digit \
  --probe evasion.pgd --probe evasion.square --out "$out/report" --format json \
  --fail-on none --json > "$out/scan.json"
campaign=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["campaign"]["id"])' \
  "$out/scan.json")

# the virtual patch: one stage per kind of finding, the clean rows calibrate the detectors
redwatch guard policy --from-campaign "$campaign" --data "$out/digits-clean.csv" \
  -o "$out/patch.policy.yaml"

# replay every recorded adversarial input through the patch
set +e
redwatch guard verify --campaign "$campaign" --policy "$out/patch.policy.yaml" \
  --model "$out/digits.joblib" --data "$out/digits-test.csv" --label digit \
  --evidence "$out/report" --json "$out/verify.json"
code=$?
set -e
echo "verify exit code: $code"   # 0: every replayed finding blocked; 1: some inputs still evade
[ "$code" -le 1 ]

# an API key for a client that only needs labels; the policy gets its hash, never the key
redwatch guard keygen analytics --role labels --quota 1000/day \
  --policy "$out/patch.policy.yaml" > "$out/analytics.key"
echo "key for analytics written to $out/analytics.key (shown once, keep it safe)"
