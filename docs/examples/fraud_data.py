"""Make a small card-fraud model and its transactions, to try the constraint and hardening
examples on: OUT_DIR/fraud.joblib and OUT_DIR/transactions.csv (label column is_fraud),
with the columns that docs/examples/redwatch-constraints.yaml declares.

Run: python docs/examples/fraud_data.py OUT_DIR
"""

import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
n = 800

# Fraud is large relative to the balance, by wire, at night, from young accounts.
before = rng.integers(200, 8000, n).astype(float)
amount = np.round(rng.beta(2, 5, n) * before, 2)
hour = rng.integers(0, 24, n)
account_age = rng.integers(0, 3000, n)
payment = rng.choice(3, n, p=[0.6, 0.25, 0.15])
score = 6.0 * amount / before + 1.5 * (payment == 1) + 1.0 * (hour < 6) - account_age / 1000
frame = pd.DataFrame(
    {
        "amount": amount,
        "balance_before": before,
        "balance_after": np.round(before - amount, 2),
        "customer_age": rng.integers(18, 85, n),
        "account_age_days": account_age,
        "hour": hour,
        "pay_card": (payment == 0).astype(int),
        "pay_wire": (payment == 1).astype(int),
        "pay_cash": (payment == 2).astype(int),
        "is_fraud": (score - 2.0 + rng.normal(0, 0.3, n) > 0).astype(int),
    }
)
model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)
model.fit(frame.drop(columns="is_fraud"), frame["is_fraud"])
joblib.dump(model, out / "fraud.joblib")
frame.to_csv(out / "transactions.csv", index=False)
print(f"wrote {out / 'fraud.joblib'} and {out / 'transactions.csv'}: {n} rows")
print(f"fraud rate {frame['is_fraud'].mean():.1%}")
