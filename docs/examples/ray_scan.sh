# Run the same seeded scan twice, in this process and as Ray tasks on a local Ray
# instance, and check that both found the same weaknesses.
python - <<'PY'
import joblib
import pandas as pd

from redwatch.demo.models import train_digits_logreg

demo = train_digits_logreg(seed=0)
joblib.dump(demo.model, "digits.joblib")
frame = pd.DataFrame(demo.x_test[:150], columns=list(demo.feature_names))
frame["digit"] = demo.y_test[:150]
frame.to_csv("digits.csv", index=False)
PY
cat > redwatch.yaml <<'YAML'
probes:
  evasion.noise: {samples: 150, draws: 2, epsilons: [0.5], reference_epsilon: 0.5}
  evasion.sensitivity: {samples: 100, step: 0.5}
  evasion.pgd: {samples: 40, steps: 10, norms: [inf]}
YAML
for executor in local ray; do
  redwatch scan digits.joblib --data digits.csv --label digit --name digits \
      --probe evasion.noise --probe evasion.sensitivity --probe evasion.pgd \
      --seed 3 --executor $executor --out report-$executor --format json --fail-on none \
      --json > $executor.json
done
python - <<'PY'
import json

runs = {name: json.load(open(f"{name}.json")) for name in ("local", "ray")}
for name, report in runs.items():
    statuses = ", ".join(f"{p['probe']} {p['status']}" for p in report["probes"])
    print(f"{name}: {len(report['findings'])} findings; {statuses}")
same = [[(f["fingerprint"], f["severity"]) for f in r["findings"]] for r in runs.values()]
print("same findings:", same[0] == same[1])
PY
