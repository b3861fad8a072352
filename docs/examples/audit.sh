#!/usr/bin/env bash
# Audit a credit-default model: train and save it, export held-out rows with the sensitive
# column 'student', then write the audit (JSON, HTML, PDF) with a small time budget.
# Run: bash docs/examples/audit.sh OUT_DIR
set -euo pipefail
out=${1:-redwatch-audit-example}
mkdir -p "$out"
python - "$out" <<'PY'
import sys
import joblib
import pandas as pd
from redwatch.demo.models import train_credit_gbm

out = sys.argv[1]
demo = train_credit_gbm(seed=0, n_estimators=30, max_depth=3)
joblib.dump(demo.model, f"{out}/credit.joblib")
frame = pd.DataFrame(demo.x_test[:300], columns=list(demo.feature_names))
frame["default"] = demo.y_test[:300]
frame.to_csv(f"{out}/credit.csv", index=False)
PY
set +e
redwatch audit "$out/credit.joblib" --data "$out/credit.csv" --label default \
  --sensitive student --out "$out/audit" --format html,pdf,json --budget-seconds 10
code=$?
set -e
echo "audit exit code: $code"   # 1: a finding at or above --fail-on (default high)
python -c "import json,sys; d=json.load(open(sys.argv[1])); print('overall risk:', d['summary']['overall_risk']); [print(r['id'], r['risk'], r['title']) for r in d['register']]" "$out/audit/audit.json"
ls "$out/audit"
[ "$code" -le 1 ]
