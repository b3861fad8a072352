"""Membership audit in Python: does an over-fit random forest give away which patients it
was trained on? Shadow models, five attacks, one JSON file of figures."""

import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier

from redwatch.ip.signed import write_json_atomic
from redwatch.probes.base import ProbeContext
from redwatch.probes.privacy import MembershipProbe
from redwatch.targets.sklearn_target import SklearnTarget

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
x, y = load_breast_cancer(return_X_y=True)
model = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=1).fit(x, y)
target = SklearnTarget(model, name="cancer-forest")

# Replica mode: a forest of the same recipe is trained on a known half of these rows and
# attacked with 6 shadow forests trained on other halves.
ctx = ProbeContext(x, y, seed=0, params={"shadows": 6})
findings = list(MembershipProbe().run(target, ctx))

print(f"attacked: {ctx.metrics['attacked']}")
for row in ctx.metrics["attacks"]:
    print(
        f"{row['attack']:>13}: AUC {row['auc']:.3f}  "
        f"TPR at 0.1% FPR {row['tpr_at_0.1%']:.1%} "
        f"(95% CI {row['tpr_at_0.1%_low']:.1%}-{row['tpr_at_0.1%_high']:.1%})"
    )
for finding in findings:
    print(f"finding [{finding.severity.label}]: {finding.title}")
    print(f"  fix: {finding.mitigations[0].title}")
write_json_atomic(out / "membership.json", ctx.metrics)
print(f"figures: {out / 'membership.json'}")
