"""Attribute inference in Python: do a credit model's scores give away a card holder's
income (a model input) or a side column the model never saw? One JSON file of figures."""

import sys
from pathlib import Path

import numpy as np

from redwatch.demo.models import train_credit_gbm
from redwatch.ip.signed import write_json_atomic
from redwatch.probes.base import ProbeContext
from redwatch.probes.privacy.attribute import AttributeInferenceProbe
from redwatch.targets.sklearn_target import SklearnTarget

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
demo = train_credit_gbm(seed=0, n_estimators=60)  # student, balance, income -> default
target = SklearnTarget(demo.model, name="credit-gbm")
x, y = demo.x_test, demo.y_test

# What `redwatch scan --sensitive income --sensitive region` passes to the probe: the
# columns by name, row-aligned with x. `region` is a side column, not a model input.
region = np.random.default_rng(0).choice(["north", "south"], size=len(x))
ctx = ProbeContext(x, y, seed=0, params={"max_rows": 1200})
ctx.sensitive = {"income": x[:, 2], "region": region}
findings = list(AttributeInferenceProbe().run(target, ctx))

for row in ctx.metrics["attacks"]:
    low, high = row["auc_ci"]
    print(
        f"{row['attribute']:>7} {row['attacker']:>23}: AUC {row['auc']:.3f} ({low:.3f}-{high:.3f})"
    )
for summary in ctx.metrics["attributes"]:
    low, high = summary["advantage_auc_ci"]
    gain = summary["advantage_auc"]
    print(f"{summary['attribute']}: advantage {gain:+.3f} AUC (95% CI {low:+.3f} to {high:+.3f})")
for finding in findings:
    print(f"finding [{finding.severity.label}]: {finding.title}")
    print(f"  fix: {finding.mitigations[0].title}: {finding.mitigations[0].detail}")
write_json_atomic(out / "attribute.json", ctx.metrics)
print(f"figures: {out / 'attribute.json'}")
