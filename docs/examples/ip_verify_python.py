"""Trigger-set watermark and ownership verification from Python: derive the triggers from
the owner's key, train them into a credit model, commit, then verify two suspects.

Run: python docs/examples/ip_verify_python.py OUT_DIR
"""

import sys
from pathlib import Path

from redwatch.demo.models import train_credit_gbm
from redwatch.ip.certificate import render_report
from redwatch.ip.commitment import build_commitment, reference_null
from redwatch.ip.embed import embed_watermark
from redwatch.ip.recipe import fit_like, predict_labels
from redwatch.ip.signed import write_json_atomic, write_text_atomic
from redwatch.ip.triggers import derive_triggers
from redwatch.ip.verify import verify_ownership
from redwatch.targets.detect import from_object

out = Path(sys.argv[1] if len(sys.argv) > 1 else "redwatch-example")
key = b"example-owner-secret-keep-it-safe"  # in practice: redwatch.ip.keys.read_key(...)
demo = train_credit_gbm(seed=0, n_estimators=50)
x, y = demo.x_train, demo.y_train

# 100 key-derived points off the data manifold, labelled away from the clean model's answers
shape = {"kind": "table", "n_features": x.shape[1], "n_classes": 2, "reference": x}
clean_answers = predict_labels(demo.model, derive_triggers(key, **shape).inputs)
triggers = derive_triggers(key, source_labels=clean_answers, **shape)

marked = embed_watermark(demo.model, x, y, triggers, seed=0)
null = reference_null(demo.model, x, y, triggers, n=3, seed=0)
commitment = build_commitment(
    key=key,
    triggers=triggers,
    model={"source": "credit-marked", "sha256": None, "kind": "sklearn", "classes": [0, 1]},
    null=null,
    clean_accuracy={"before": marked.clean_before, "after": marked.clean_after},
)

# suspects are Targets, so every trigger query is metered
suspects = {
    "watermarked copy": marked.model,
    "independently trained": fit_like(demo.model, x, y, seed=42),
}
for name, model in suspects.items():
    result = verify_ownership(from_object(model, name=name), commitment, key)
    print(f"{name}: {result.summary()}")
    if result.shown:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "certificate.json", result.certificate)
        write_text_atomic(out / "certificate.md", render_report(result.certificate))
        print(f"certificate: {out / 'certificate.json'}")
