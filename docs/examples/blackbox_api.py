"""Call the black-box attacks directly on the bundled digits model (8x8 images in [0, 1]).

Run: python docs/examples/blackbox_api.py
"""

import numpy as np

from redwatch.attacks.hopskipjump import hopskipjump
from redwatch.attacks.signopt import signopt
from redwatch.attacks.square import square
from redwatch.demo.models import train_digits_logreg

demo = train_digits_logreg(seed=0)
model_predict = demo.model.predict  # labels only: all a decision-based attack needs
model_proba = demo.model.predict_proba  # scores, for Square
x01, y = demo.x_test[:20], demo.y_test[:20]  # rows already scaled to clip=(0, 1)
rng = np.random.default_rng(0)

results = {
    "signopt, stop within eps=1.0": signopt(
        model_predict, x01, y, max_queries=1000, eps=1.0, rng=rng
    ),
    "hopskipjump, minimal norm": hopskipjump(model_predict, x01, y, max_queries=1000, rng=rng),
    "square Linf eps=0.1": square(
        model_proba, x01, y, eps=0.1, max_queries=500, image_shape=(1, 8, 8), rng=rng
    ),
}

# Targeted Sign-OPT: push each row to class t, starting from a real example of t.
t = (y + 1) % 10
examples_of_t = np.stack([demo.x_train[demo.y_train == c][0] for c in t])
results["signopt targeted"] = signopt(
    model_predict, x01, y, targeted=True, y_target=t, x_init=examples_of_t, max_queries=1000
)

for name, res in results.items():  # res.x_adv, res.success, res.queries, res.norms, res.stopped
    fooled = res.success
    print(
        f"{name:30} success {fooled.mean():.0%}  "
        f"median size {np.median(res.norms[fooled]):.2f}  "
        f"median queries {np.median(res.queries):.0f}  stopped={res.stopped}"
    )
