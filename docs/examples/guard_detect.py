"""Calibrated detectors in front of a digits classifier: PGD adversarial examples are
blocked, clean held-out digits go through, and every anomaly event is saved as JSON lines
(docs/guard-detectors.md).

Run: python guard_detect.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from redwatch.attacks.pgd import pgd
from redwatch.demo.models import train_digits_logreg
from redwatch.guard import GuardBlocked, GuardedModel, GuardEvent, parse_policy
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.targets.spec import InputSpec

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)

demo = train_digits_logreg(seed=0)
spec = InputSpec(demo.feature_names, np.zeros(64), np.ones(64), image_shape=(1, 8, 8))
policy = parse_policy(
    {
        "stages": [
            {
                "name": "detect",
                "options": {
                    "detectors": [
                        "mahalanobis",
                        {"method": "squeeze", "bits": 3, "median": False},
                        {"method": "instability", "samples": 8, "sigma": 0.05},
                    ],
                    "fpr": 0.01,
                    "action": "block",
                },
            }
        ]
    },
    "example policy",
)
events: list[GuardEvent] = []
guarded = GuardedModel(demo.model, policy, spec, reference=demo.x_train, sink=events.extend)
guarded.build()  # fits and calibrates the detectors once, before serving

# Adversarial digits from redwatch's own white-box PGD (L-infinity 0.15), successful ones only.
target = SklearnTarget(demo.model)
attack = pgd(
    target.loss_gradient,
    target.predict,
    demo.x_test,
    demo.y_test,
    eps=0.15,
    rng=np.random.default_rng(0),
)
adversarial = attack.x_adv[attack.success]


def blocked_share(rows: np.ndarray) -> float:
    """Share of one-row calls that the guard refused."""
    refused = 0
    for row in rows:
        try:
            guarded.predict(row[None, :], client="ip:10.0.0.9")
        except GuardBlocked:
            refused += 1
    return refused / len(rows)


print(f"adversarial digits blocked: {blocked_share(adversarial):.0%} of {len(adversarial)}")
print(f"clean digits blocked:       {blocked_share(demo.x_test):.1%} of {len(demo.x_test)}")
for cal in guarded.pipeline.stages[0].calibrated:  # type: ignore[attr-defined]
    print(f"  {cal.name:12s} threshold {cal.threshold:.4g} at fpr {cal.alpha:.4f}")

path = out / "anomalies.jsonl"
with path.open("w", encoding="utf-8") as handle:
    for event in events:
        handle.write(json.dumps(event.to_dict()) + "\n")
print(f"wrote {len(events)} anomaly events to {path.name}")
