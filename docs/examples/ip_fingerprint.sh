# Fingerprint the demo digits model, then compare a copy and an independent model with it.
python - <<'PY'
import joblib
import pandas as pd

from redwatch.demo.models import train_digits_logreg

owner = train_digits_logreg(0)
joblib.dump(owner.model, "owner.joblib")
joblib.dump(train_digits_logreg(7).model, "independent.joblib")
frame = pd.DataFrame(owner.x_train, columns=list(owner.feature_names))
frame["digit"] = owner.y_train
frame.to_csv("train.csv", index=False)
PY
cp owner.joblib suspect-copy.joblib
redwatch ip keygen --out owner.key
redwatch ip fingerprint owner.joblib --data train.csv --label digit --out fp.json \
  --points 100 --references 6 --key owner.key
redwatch ip compare suspect-copy.joblib --fingerprint fp.json --key owner.key
echo "copy: exit code $?"
redwatch ip compare independent.joblib --fingerprint fp.json
echo "independent: exit code $?"
