"""A model copied through its guarded API: serve the digits model through the `watermark`
stage, let a thief label 10,000 Knockoff queries (MNIST digits) and train a random forest
on the answers, and keep the guard's events. Also trains an innocent model on the owner's
data without the API. ip_api.sh then verifies both with `redwatch ip verify-api`.

Run: python docs/examples/ip_api_theft.py OUT_DIR   (uses OUT_DIR/owner.key, or makes one)
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from redwatch.attacks.extraction import knockoff_queries
from redwatch.demo.datasets import load_mnist_8x8
from redwatch.demo.models import train_digits_logreg
from redwatch.guard import GuardedModel, parse_policy
from redwatch.ip.keys import generate_key, read_key
from redwatch.targets.spec import InputSpec

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
key_file = out / "owner.key"
if not key_file.exists():  # `redwatch ip keygen --out owner.key` makes one too
    key_file.write_text(generate_key() + "\n")
# The guard reads the same secret from its environment.
os.environ["REDWATCH_WATERMARK_KEY"] = read_key(str(key_file)).decode()

demo = train_digits_logreg(seed=0)
events: list[dict[str, Any]] = []
guarded = GuardedModel(
    demo.model,
    parse_policy({"stages": [{"name": "watermark", "options": {"rate": 0.005}}]}, "example"),
    InputSpec.from_data(demo.x_train, demo.feature_names),
    sink=lambda batch: events.extend(event.to_dict() for event in batch),
)

# The thief: MNIST digits (another distribution), with a little noise once they run out.
rng = np.random.default_rng(0)
queries = knockoff_queries(load_mnist_8x8(), 10_000, rng=rng)
queries = np.clip(queries + rng.normal(0.0, 0.02, queries.shape), 0.0, 1.0)
batches = np.array_split(queries, 20)
answers = np.concatenate([guarded.predict(b, client="ip:203.0.113.7") for b in batches])
stolen = RandomForestClassifier(n_estimators=50, random_state=0).fit(queries, answers)
joblib.dump(stolen, out / "surrogate.joblib")

# Someone else's model, trained on the owner's kind of data but never through the API.
innocent = RandomForestClassifier(n_estimators=50, random_state=1)
joblib.dump(innocent.fit(demo.x_train, demo.y_train), out / "independent.joblib")

# The guard's events as its recorder spools them: one JSON line per event.
log = out / "watermark-events.jsonl"
log.write_text("".join(json.dumps(event) + "\n" for event in events))
print(f"served {len(answers)} answers; {len(events)} watermark events in {log.name}")
