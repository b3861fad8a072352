# Flip 10 % of breast-cancer labels, train a forest on them, quarantine what the data scan
# flags, and retrain without the quarantine.
python - <<'PY'
import joblib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

data = load_breast_cancer(as_frame=True)
y = data.target.to_numpy().copy()
rows = np.random.default_rng(0).choice(len(y), len(y) // 10, replace=False)
y[rows] = 1 - y[rows]
frame = data.data.copy()
frame["diagnosis"] = y
frame.to_csv("train.csv", index=False)
model = RandomForestClassifier(n_estimators=20, random_state=0).fit(data.data, y)
joblib.dump(model, "model.joblib")
learned = np.mean(model.predict(data.data)[rows] == y[rows])
print(f"flipped {len(rows)} labels; the forest predicts {learned:.0%} of them")
PY
cat > quick.yaml <<'YAML'
probes:
  evasion.tree_walk: {samples: 30}
YAML
code=0
redwatch data scan train.csv --label diagnosis --quarantine quarantine.csv > /dev/null || code=$?
echo "scan exit code: $code, quarantined rows: $(($(wc -l < quarantine.csv) - 1))"
code=0
redwatch harden model.joblib --data train.csv --label diagnosis --drop-rows quarantine.csv \
    --out retrained --probe evasion.tree_walk --config quick.yaml || code=$?
echo "harden exit code: $code"
