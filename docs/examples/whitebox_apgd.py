"""Run the evasion.apgd probe on the bundled digits model, with the options of
docs/examples/whitebox-apgd.yaml, and print the robustness curve.

Run: python docs/examples/whitebox_apgd.py
"""

from pathlib import Path

import numpy as np

from redwatch.config import load_project_config
from redwatch.demo.models import train_digits_logreg
from redwatch.probes.base import Budget, ProbeContext
from redwatch.probes.evasion.apgd import APGDProbe
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

config = load_project_config(Path(__file__).with_name("whitebox-apgd.yaml"))
params = dict(config.probes["evasion.apgd"])

demo = train_digits_logreg(seed=0)  # 8x8 digit images, pixels in [0, 1]
target = SklearnTarget(demo.model, name="digits-logreg")
names = tuple(f"pixel_{i}" for i in range(64))
target.set_input_spec(InputSpec(names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8)))

ctx = ProbeContext(demo.x_test, demo.y_test, Budget(queries=500_000), seed=0, params=params)
with target.limit(ctx.budget.queries):
    findings = list(APGDProbe().run(target, ctx))

print(f"losses used: {ctx.metrics['apgd_losses']}")
for finding in findings:
    print(f"[{finding.severity.name}] {finding.title}")
    for point in finding.metrics["curve"]:
        print(
            f"  eps={point['epsilon']:<5g} accuracy under attack={point['accuracy']:.1%} "
            f"success={point['success_rate']:.1%}"
        )
