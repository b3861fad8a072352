"""Keyed API watermark end to end: serve the digits model through the guard policy in
watermark.policy.yaml, keep the watermark records its events carry, then test two suspect
models against them: one trained on the API's answers, one that never saw the API.

Run: python docs/examples/watermark_verify.py OUT_DIR
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from redwatch.demo.models import train_digits_logreg
from redwatch.guard import GuardedModel, load_policy
from redwatch.guard.watermark_record import WatermarkRecord, agreement, record_rows
from redwatch.targets.spec import InputSpec

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
# In production the key is a secret set by the deployment, e.g. from
#   python -c "import secrets; print(secrets.token_urlsafe(32))"
os.environ.setdefault("REDWATCH_WATERMARK_KEY", "example-only-key-not-a-secret-0123456789")

demo = train_digits_logreg(seed=0)
records: list[dict[str, Any]] = []
guarded = GuardedModel(
    demo.model,
    load_policy(Path(__file__).with_name("watermark.policy.yaml")),
    InputSpec.from_data(demo.x_train, demo.feature_names),
    sink=lambda events: records.extend(e.data for e in events if e.kind == "watermark"),
)

# A thief sends 10,000 queries near real digits, in batches, and keeps the answers.
rng = np.random.default_rng(0)
queries = demo.x_train[rng.integers(0, len(demo.x_train), 10_000)]
queries = np.clip(queries + rng.normal(0.0, 0.05, queries.shape), 0.0, 1.0)
answers = np.concatenate(
    [guarded.predict(batch, client="ip:203.0.113.7") for batch in np.array_split(queries, 10)]
)
path = out / "watermark-records.jsonl"
path.write_text("".join(json.dumps(r) + "\n" for r in records))
print(f"served {len(answers)} answers, {len(records)} watermarked; records in {path.name}")

# Later: test suspects on the recorded rows against the recorded (served) labels.
kept = [WatermarkRecord.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
suspects = {
    "trained on the API's answers": DecisionTreeClassifier(random_state=0).fit(queries, answers),
    "independent model": LogisticRegression(max_iter=500).fit(demo.x_test, demo.y_test),
}
for name, suspect in suspects.items():
    score = agreement(suspect.predict(record_rows(kept)), kept)
    print(
        f"{name:30} watermark labels {score.watermark}/{score.records}  p-value {score.p_value:.2g}"
    )
