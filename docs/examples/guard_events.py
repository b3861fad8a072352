"""Guard events end to end: a guarded credit model records every event in a SQLite store
through an EventRecorder and raises alerts through an Alerter (docs/guard-events.md).

Run: python guard_events.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from redwatch.alerts import parse_alert_config
from redwatch.demo.models import train_credit_gbm
from redwatch.guard import GuardBlocked, GuardedModel, parse_policy
from redwatch.guard.events import fanout
from redwatch.guard.keys import generate_api_key
from redwatch.guard.recorder import EventRecorder
from redwatch.store import Store
from redwatch.targets.spec import InputSpec

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
url = f"sqlite:///{out / 'redwatch.db'}"

demo = train_credit_gbm(seed=0)
spec = InputSpec.from_data(demo.x_train, demo.feature_names)
key, entry = generate_api_key("analyst", "scores")
policy = parse_policy(
    {
        "stages": [
            {"name": "auth", "options": {"keys": [entry]}},
            {"name": "validate", "options": {"spec_check": "event"}},
        ]
    },
    "example policy",
)

# The alerting file of this folder; its log sink writes alerts.jsonl under OUT_DIR.
config_file = Path(__file__).with_name("guard.alerts.yml")
raw = yaml.safe_load(config_file.read_text(encoding="utf-8"))
alerter = parse_alert_config(raw, config_file.name, base_dir=out).alerter(source="credit-api")
recorder = EventRecorder(url, out / "spool", source="credit-api")

with recorder, alerter:  # start both; on exit flush them (events still unstored stay spooled)
    guarded = GuardedModel(demo.model, policy, spec, sink=fanout(recorder, alerter))
    guarded.predict_proba(demo.x_test[:5], client="ip:10.1.1.1", key=key)
    odd = demo.x_test[:3].copy()
    balance = demo.feature_names.index("balance")
    odd[:, balance] = spec.upper[balance] * 100  # far outside the training range: recorded
    guarded.predict(odd, client="ip:10.1.1.1", key=key)
    for _ in range(6):  # someone guessing keys: auth_failed each time, then an intrusion
        try:
            guarded.predict(demo.x_test[:1], client="ip:203.0.113.66", key="analyst.guess")
        except GuardBlocked as blocked:
            status = blocked.status

print(f"recorder: {recorder.stats.stored} event(s) stored, {recorder.stats.spooled} spooled")
with Store.open(url) as store:
    for event in reversed(store.list_events(limit=20)):
        print(f"  {event['kind']:<15} {event['client']:<18} {event['detail']}")
alerts = (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
print(f"{len(alerts)} alert(s) in {out / 'alerts.jsonl'}; the last one:")
print(alerts[-1])
print(f"blocked key guesses answered HTTP {status}")
