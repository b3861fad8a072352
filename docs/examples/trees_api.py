"""Exact (MILP) and fast (leaf walk) attacks on a small XGBoost credit model, from Python.

Run: python docs/examples/trees_api.py
"""

import numpy as np

from redwatch.attacks.trees.ensemble import extract
from redwatch.attacks.trees.leafwalk import leaf_walk
from redwatch.attacks.trees.milp import milp_attack
from redwatch.demo.models import train_credit_gbm
from redwatch.targets.spec import InputSpec

demo = train_credit_gbm(seed=0, n_estimators=20, max_depth=3)  # student, balance, income
model = demo.model
spec = InputSpec.from_data(demo.x_train, demo.feature_names).declare(immutable=["student"])
# Attack the defaulters the model catches: can a small change get them approved?
keep = (model.predict(demo.x_test) == demo.y_test) & (demo.y_test == 1)
x, y = demo.x_test[keep][:10], demo.y_test[keep][:10]

ens = extract(model)  # None if the model is not supported
assert ens is not None
exact = milp_attack(ens, x, y, spec)  # .radius, .exact, .x_adv (feature units)
fast = leaf_walk(ens, x, y, spec, eps=0.05)

print(f"exact radius (L-inf, fraction of range): median {np.median(exact.radius):.3f}")
print(f"proven exact: {exact.exact.mean():.0%} of {len(x)} rows")
print(f"leaf walk within eps=0.05: {fast.success.mean():.0%} of rows")
print(f"exact evasions flip the model: {np.all(model.predict(exact.x_adv) != y)}")
row = int(np.argmin(exact.radius))
changes = ", ".join(
    f"{name} {a:.2f} -> {b:.2f}"
    for name, a, b in zip(demo.feature_names, x[row], exact.x_adv[row], strict=True)
    if a != b
)
print(f"smallest change: {changes}")
