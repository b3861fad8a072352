redwatch harden fraud.joblib --data transactions.csv --label is_fraud --out fraud-hardened
