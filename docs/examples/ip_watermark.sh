#!/usr/bin/env bash
# Watermark the demo credit model with a secret trigger set and commit to it.
# Run: bash docs/examples/ip_watermark.sh OUT_DIR
set -euo pipefail
out=${1:-redwatch-example}
mkdir -p "$out"
python - "$out" <<'PY'
import sys

import joblib
import pandas as pd

from redwatch.demo.models import train_credit_gbm

out = sys.argv[1]
demo = train_credit_gbm(seed=0)
joblib.dump(demo.model, f"{out}/credit.joblib")
frame = pd.DataFrame(demo.x_train, columns=list(demo.feature_names))
frame["default"] = demo.y_train
frame.to_csv(f"{out}/credit-train.csv", index=False)
PY
redwatch ip keygen --out "$out/owner.key"
redwatch ip watermark "$out/credit.joblib" --data "$out/credit-train.csv" --label default \
  --key "$out/owner.key" --out "$out/credit-marked.joblib" --references 5
python -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["schema"], d["trigger"]["digest"])' \
  "$out/credit-marked.joblib.commitment.json"
