# Breast-cancer training data with 20 seeded label flips, scanned and quarantined.
python - <<'PY'
import numpy as np
from sklearn.datasets import load_breast_cancer

data = load_breast_cancer(as_frame=True)
frame = data.data.copy()
y = data.target.to_numpy().copy()
rows = np.random.default_rng(7).choice(len(y), 20, replace=False)
y[rows] = 1 - y[rows]
frame["diagnosis"] = y
frame.to_csv("train.csv", index=False)
print("flipped rows:", sorted(rows.tolist()))
PY
code=0
redwatch data scan train.csv --label diagnosis --out report \
    --quarantine quarantine.csv || code=$?
echo "scan exit code: $code"
echo "quarantined rows: $(($(wc -l < quarantine.csv) - 1)), clean rows: $(($(wc -l < quarantine.clean.csv) - 1))"
