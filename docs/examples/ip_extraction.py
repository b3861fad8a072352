"""How stealable is the demo digits model? Run the Knockoff extraction probe from Python and
print the stealability curve per output mode (docs/ip-extraction.md)."""

import sys
from pathlib import Path

import numpy as np

from redwatch.demo.models import train_digits_logreg
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.extraction import KnockoffExtractionProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
demo = train_digits_logreg(seed=0)
target = SklearnTarget(demo.model, name="digits-logreg")
target.set_input_spec(
    InputSpec(demo.feature_names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8))
)
# the campaign's rows: 150 are held out for fidelity, the rest are natural queries
x = np.vstack([demo.x_test, demo.x_train[:600]])
y = np.concatenate([demo.y_test, demo.y_train[:600]])
# image target: the surrogate is a small CNN (learner "auto"); two checkpoints keep it quick
params = {"holdout": 150, "queries": 800, "checkpoints": [0.25, 1.0]}
ctx = ProbeContext(x, y, Budget(queries=2_000), seed=0, params=params)
findings = list(KnockoffExtractionProbe().run(target, ctx))

print(f"queries spent: {target.queries} (150 to label the held-out rows)")
for f in findings:
    print(f"[{f.severity.label}] {f.title}")
    for mode, points in f.metrics["curves"].items():
        curve = ", ".join(f"{p['queries']}: {p['fidelity']:.2f}" for p in points)
        print(f"  {mode:<13} fidelity by queries  {curve}")
    for m in f.mitigations:
        print(f"  mitigation: {m.title} ({m.params.get('stage')})")
if not findings:
    print(f"no finding; fidelity {ctx.metrics['fidelity']:.2f}")
