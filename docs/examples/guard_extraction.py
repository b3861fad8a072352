"""A model thief against the guarded digits classifier: Jacobian-based augmentation
(Papernot et al. 2017) split over 20 fresh API keys, while 20 established users keep
calling. The extraction stage (docs/examples/extraction.policy.yaml) flags the pool of
young keys and blocks the keys it names; the users are never refused. The events are saved
as JSON lines (docs/guard-extraction.md).

Run: python guard_extraction.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from redwatch.attacks.extraction import jacobian_augmentation
from redwatch.demo.models import train_digits_logreg
from redwatch.guard import GuardBlocked, GuardedModel, GuardEvent, load_policy
from redwatch.targets.spec import InputSpec

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)

demo = train_digits_logreg(seed=0)
spec = InputSpec.from_data(demo.x_train, demo.feature_names)
policy = load_policy(Path(__file__).with_name("extraction.policy.yaml"))
events: list[GuardEvent] = []
guarded = GuardedModel(demo.model, policy, spec, reference=demo.x_train, sink=events.extend)
guarded.build()  # scales, fits the reference test and calibrates the W threshold once

thieves = [f"thief{i}.secret-{i}" for i in range(20)]
users = [f"user{i}.secret-{i}" for i in range(20)]
rng = np.random.default_rng(0)
sent = refused = honest_refused = 0


def honest_call(i: int) -> None:
    """One honest user asks about one held-out digit."""
    global honest_refused
    row = demo.x_test[rng.integers(len(demo.x_test))][None, :]
    try:
        guarded.predict(row, client=f"ip:10.0.1.{i % 20}", key=users[i % 20])
    except GuardBlocked:
        honest_refused += 1


for i in range(20 * 40):  # the users' history: 40 calls each, old enough for their own test
    honest_call(i)


def thief_oracle(rows: np.ndarray) -> np.ndarray:
    """The thief's view of the API: one row per call, keys taken in turn, -1 when refused."""
    global sent, refused
    labels = []
    for row in rows:
        honest_call(sent)
        try:
            key = thieves[sent % 20]
            labels.append(int(guarded.predict(row[None, :], client="ip:203.0.113.7", key=key)[0]))
        except GuardBlocked:
            labels.append(-1)
            refused += 1
        sent += 1
    return np.asarray(labels)


seeds = demo.x_test[rng.choice(len(demo.x_test), 10, replace=False)]
jacobian_augmentation(thief_oracle, seeds, rounds=64, step=0.1, lower=spec.lower,
                      upper=spec.upper, max_queries=200, rng=rng)  # fmt: skip

flags = [e for e in events if e.kind == "extraction"]
with (out / "extraction-events.jsonl").open("w", encoding="utf-8") as handle:
    for event in events:
        handle.write(json.dumps(event.to_dict()) + "\n")
print(f"thief sent {sent} queries over 20 keys, {refused} refused")
print(f"honest users made {800 + sent} calls, {honest_refused} refused")
for event in flags:
    data = event.data
    print(f"{data['scope']} flag ({data['signal']}) after {data['queries']} queries, "
          f"{data['n_clients']} clients named: {event.detail}")  # fmt: skip
assert flags, "the thief was not flagged"
assert honest_refused == 0, "an honest user was refused"
