#!/usr/bin/env bash
# Prove ownership of a model with a trigger-set watermark: make an owner key, watermark a
# credit model (which writes a signed commitment), then test two suspects — the watermarked
# copy (ownership shown, exit 0) and the clean original (not shown, exit 1).
# Run: bash docs/examples/ip-verify.sh OUT_DIR
set -euo pipefail
out=${1:-redwatch-example}
mkdir -p "$out"
python - "$out" <<'PY'
import sys
import joblib
import pandas as pd
from redwatch.demo.models import train_credit_gbm

out = sys.argv[1]
demo = train_credit_gbm(seed=0, n_estimators=50)
joblib.dump(demo.model, f"{out}/credit.joblib")
train = pd.DataFrame(demo.x_train, columns=list(demo.feature_names)).assign(default=demo.y_train)
train.to_csv(f"{out}/credit-train.csv", index=False)
PY
redwatch ip keygen --out "$out/owner.key"
redwatch ip watermark "$out/credit.joblib" --data "$out/credit-train.csv" --label default \
  --key "$out/owner.key" --out "$out/credit-marked.joblib" --references 3

# the suspect is our watermarked model: a signed certificate and a readable report
redwatch ip verify "$out/credit-marked.joblib" --key "$out/owner.key" \
  --commitment "$out/credit-marked.joblib.commitment.json" \
  --out "$out/certificate.json" --report "$out/certificate.md"

# the clean original never saw the triggers: exit 1, ownership not shown
set +e
redwatch ip verify "$out/credit.joblib" --key "$out/owner.key" \
  --commitment "$out/credit-marked.joblib.commitment.json"
code=$?
set -e
echo "clean model exit code: $code"
[ "$code" -eq 1 ]
