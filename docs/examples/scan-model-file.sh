#!/usr/bin/env bash
# Scan a saved model file with the CLI: train and save a model, export its test data as CSV,
# then attack it and fail the step on high-severity findings.
# Run: bash docs/examples/scan-model-file.sh OUT_DIR
set -euo pipefail
out=${1:-redwatch-example}
mkdir -p "$out"
python - "$out" <<'PY'
import sys
import joblib
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier

out = sys.argv[1]
data = load_wine(as_frame=True)
model = RandomForestClassifier(n_estimators=50, random_state=0).fit(data.data, data.target)
joblib.dump(model, f"{out}/model.joblib")
frame = data.data.copy()
frame["label"] = data.target
frame.to_csv(f"{out}/wine.csv", index=False)
PY
set +e
redwatch scan "$out/model.joblib" --data "$out/wine.csv" --label label \
  --probe evasion.noise --probe evasion.hopskipjump --budget-queries 50000 \
  --out "$out/report" --format json,html,sarif,junit,md --fail-on high
code=$?
set -e
echo "exit code: $code"   # 0: nothing at or above high; 1: findings at or above high
ls "$out/report"
[ "$code" -le 1 ]
