"""Scan an in-process scikit-learn model from Python and print its findings.

Run: python docs/examples/python_api.py OUT_DIR
"""

import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.probes.base import Budget
from redwatch.store.repository import Store
from redwatch.targets.detect import from_object

out = Path(sys.argv[1] if len(sys.argv) > 1 else "redwatch-example")
data = load_breast_cancer()
x_train, x_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, random_state=0
)
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)

target = from_object(model, name="breast-cancer-logreg")
dataset = Dataset(x_test, y_test, list(data.feature_names), "target", "breast cancer")
options = ScanOptions(out_dir=out, budget=Budget(queries=200_000, seconds=60), formats=["json"])
with Store.open(f"sqlite:///{out / 'store.db'}") as store:
    result = run_scan(target, "sklearn", dataset, store, options)

for finding in result.findings:
    print(f"{finding.severity.label:8} {finding.probe:22} {finding.title}")
print("report:", result.report_paths["json"])
