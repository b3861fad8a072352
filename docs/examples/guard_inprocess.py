"""The guard in-process: GuardedModel wraps a fitted model; the same policy and stages as
the proxy, no HTTP. Blocked calls raise GuardBlocked; events go to the sink you pass.

Run: python docs/examples/guard_inprocess.py OUT_DIR
"""

import json
import sys
from pathlib import Path

from redwatch.demo.models import train_credit_gbm
from redwatch.guard import GuardBlocked, GuardedModel, GuardEvent, load_policy
from redwatch.targets.spec import InputSpec

demo = train_credit_gbm(seed=0)  # XGBoost on ISLR Default: student, balance, income
spec = InputSpec.from_data(demo.x_train, demo.feature_names)
policy = load_policy(Path(__file__).with_name("proxy.policy.yaml"))
seen: list[GuardEvent] = []
guarded = GuardedModel(demo.model, policy, spec, reference=demo.x_train, sink=seen.extend)
guarded.build()  # every stage built (and calibrated) now: a bad policy fails here

print("clean rows:", guarded.predict_proba(demo.x_test[:2]).tolist())
odd = demo.x_test[:1].copy()
odd[0, 1] = 1e7  # a balance far above anything in the training data
print("out of range:", guarded.predict(odd, client="ip:10.0.0.7").tolist())
print("  events:", [f"{e.stage}/{e.kind}" for e in guarded.last_events])
try:
    guarded.predict([[0.0, float("nan"), 30000.0]], client="ip:10.0.0.7")
except GuardBlocked as blocked:
    print(f"refused: {blocked.status} from {blocked.stage}: {blocked.reason}")
print(f"{len(seen)} events reached the sink")
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("guard-inprocess")
out.mkdir(parents=True, exist_ok=True)
lines = "".join(json.dumps(e.to_dict()) + "\n" for e in seen)
(out / "events.jsonl").write_text(lines, encoding="utf-8")
