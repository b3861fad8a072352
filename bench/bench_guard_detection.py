"""Guard input detectors against redwatch's own attacks: TPR at 1% FPR and AUC.

Models: the demo digits logistic regression (8x8 pixels) and the demo MNIST CNN (28x28).
Adversarial examples (successful ones only) from correctly classified held-out rows:
PGD L∞ (white-box), Square L∞ (scores), HopSkipJump L2 (labels, minimal-norm mode).

The reference is the model's training rows (x_train, what a deployment usually has); the
`detect` stage splits it in half, fits on one half and calibrates on the other. Per
detector the threshold is the conformal one at 1% from that calibration half; the combined
stage is the real DetectStage at fpr 0.01 (each of its detectors at 0.01 / m). FPR is
measured on the held-out clean rows (x_test), never used for fitting or calibration; AUC
compares held-out clean rows with the adversarial examples. Also measured: the latency of
one call on one row (one thread), the isolation-forest walk against scikit-learn (equal
scores, speed ratio), and the FPR of the model-based detectors when they are calibrated on
held-out rows instead of training rows.

    python bench/bench_guard_detection.py [--quick] [--models digits,mnist]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
from sklearn.metrics import roc_auc_score

from _common import machine_info, print_table, write_json
from redwatch.attacks.hopskipjump import hopskipjump
from redwatch.attacks.pgd import pgd
from redwatch.attacks.square import square
from redwatch.guard.context import StageContext
from redwatch.guard.detectors.iforest import IsolationForestDetector
from redwatch.guard.stage import Action, GuardRequest
from redwatch.guard.stages.detect import DetectStage
from redwatch.targets.spec import InputSpec

SEED = 0
THREADS = 2
TARGET_FPR = 0.01
ProbaFn = Callable[[np.ndarray], np.ndarray]
GradFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Case:
    """One model: probabilities and loss gradients on rows in [0, 1], its data, the attack
    settings and the detector configuration tuned for it (the squeezer differs)."""

    name: str
    description: str
    proba: ProbaFn
    grad: GradFn
    image_shape: tuple[int, int, int]
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    eps_linf: float
    square_queries: int
    squeeze_tuned: dict[str, Any]
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def spec(self) -> InputSpec:
        d = self.x_train.shape[1]
        names = tuple(f"pixel_{i}" for i in range(d))
        return InputSpec(names, np.zeros(d), np.ones(d), image_shape=self.image_shape)

    def labels(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.proba(x).argmax(axis=1))


def _sources(quick: bool, many: int, few: int) -> dict[str, int]:
    """Rows attacked: `many` for PGD and Square, `few` for the costlier HopSkipJump."""
    if quick:
        many, few = 30, 20
    return {"pgd_linf": many, "square_linf": many, "hopskipjump_l2": few}


def digits_case(quick: bool) -> Case:
    from redwatch.demo.models import train_digits_logreg
    from redwatch.targets.sklearn_target import SklearnTarget

    demo = train_digits_logreg(seed=SEED)
    target = SklearnTarget(demo.model)
    return Case(
        "digits_logreg",
        "demo digits logistic regression, 64 pixels in [0, 1], 10 classes",
        lambda x: np.asarray(demo.model.predict_proba(x), dtype=np.float64),
        target.loss_gradient,
        (1, 8, 8),
        demo.x_train,
        demo.x_test,
        demo.y_test,
        eps_linf=0.1,
        square_queries=1000,
        squeeze_tuned={"method": "squeeze", "bits": 3, "median": False},
        sources=_sources(quick, many=300, few=150),
    )


def mnist_case(quick: bool) -> Case:
    import torch

    from redwatch.demo.models import train_mnist_cnn
    from redwatch.targets.torch_target import TorchTarget

    torch.set_num_threads(THREADS)
    demo = train_mnist_cnn(seed=SEED, threads=THREADS, epochs=2 if quick else 6)
    target = TorchTarget(demo.model, n_classes=10)

    def proba(z: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(z), 512):
                logits = demo.model(torch.as_tensor(z[i : i + 512], dtype=torch.float32))
                out.append(np.asarray(torch.softmax(logits, dim=1).numpy(), dtype=np.float64))
        return np.concatenate(out) if out else np.zeros((0, 10))

    return Case(
        "mnist_cnn",
        "demo MNIST CNN (2 conv + 1 linear), 784 pixels in [0, 1], 10 classes",
        proba,
        target.loss_gradient,
        (1, 28, 28),
        demo.x_train.astype(np.float64),
        demo.x_test.astype(np.float64),
        demo.y_test,
        eps_linf=0.2,
        square_queries=500,
        squeeze_tuned={"method": "squeeze", "bits": 1, "median": False},
        sources=_sources(quick, many=150, few=80),
    )


# -- adversarial examples ------------------------------------------------------------------
def attack_all(case: Case) -> dict[str, dict[str, Any]]:
    """Successful adversarial examples per attack, with settings and what they cost."""
    ok = np.flatnonzero(case.labels(case.x_test) == case.y_test)
    order = np.random.default_rng(SEED).permutation(ok)
    out = {}
    runs: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
        "pgd_linf": lambda x, y: pgd(
            case.grad, case.labels, x, y, eps=case.eps_linf, steps=40, rng=_rng()
        ),
        "square_linf": lambda x, y: square(
            case.proba,
            x,
            y,
            eps=case.eps_linf,
            max_queries=case.square_queries,
            rng=_rng(),
            image_shape=case.image_shape,
        ),
        "hopskipjump_l2": lambda x, y: hopskipjump(case.labels, x, y, max_queries=1000, rng=_rng()),
    }
    settings = {
        "pgd_linf": {"eps": case.eps_linf, "steps": 40},
        "square_linf": {"eps": case.eps_linf, "max_queries": case.square_queries},
        "hopskipjump_l2": {"mode": "minimal norm", "max_queries": 1000},
    }
    for name, run in runs.items():
        idx = order[: case.sources[name]]
        print(f"[guard_detection] {case.name}: {name} on {len(idx)} rows ...", flush=True)
        start = time.perf_counter()
        res = run(case.x_test[idx], case.y_test[idx])
        seconds = time.perf_counter() - start
        adv = res.x_adv[res.success]
        delta = adv - case.x_test[idx][res.success]
        out[name] = {
            "settings": settings[name],
            "sources": len(idx),
            "successful": int(res.success.sum()),
            "median_linf": _median(np.abs(delta).max(axis=1)),
            "median_l2": _median(np.linalg.norm(delta, axis=1)),
            "wall_s": seconds,
            "x_adv": adv,
        }
    return out


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


# -- detectors -----------------------------------------------------------------------------
def build(case: Case, detectors: list[Any], reference: np.ndarray, fpr: float) -> DetectStage:
    """A real detect stage around the case's model, calibrated on `reference`."""
    context = StageContext(spec=case.spec, predict_proba=case.proba, reference=reference)
    options = {"detectors": detectors, "fpr": fpr, "max_reference_rows": len(reference)}
    stage = DetectStage.from_options(options, context)
    assert isinstance(stage, DetectStage)
    return stage


def _auc(clean: np.ndarray, attacked: np.ndarray) -> float | None:
    if len(attacked) == 0:
        return None
    labels = np.r_[np.zeros(len(clean)), np.ones(len(attacked))]
    return float(roc_auc_score(labels, np.r_[clean, attacked]))


def per_detector(
    case: Case, attacks: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every detector alone at 1% (its conformal threshold from the calibration half)."""
    main = build(
        case,
        ["mahalanobis", "iforest", case.squeeze_tuned, "instability", "strip"],
        case.x_train,
        TARGET_FPR,
    )
    default_squeeze = build(case, ["squeeze"], case.x_train, TARGET_FPR)
    calibrated = {c.name: c for c in main.calibrated}
    calibrated["squeeze_tuned"] = calibrated.pop("squeeze")
    calibrated["squeeze"] = default_squeeze.calibrated[0]
    params = {
        "squeeze_tuned": {k: v for k, v in case.squeeze_tuned.items() if k != "method"},
        "squeeze": {"bits": 5, "median": True},
        "instability": {"samples": 8, "sigma": 0.05},
        "strip": {"samples": 16, "alpha": 0.5},
        "iforest": {"n_estimators": 100},
        "mahalanobis": {"estimator": calibrated["mahalanobis"].detector.estimator_},  # type: ignore[attr-defined]
    }
    rows = {}
    for name, cal in calibrated.items():
        threshold = cal.threshold_at(TARGET_FPR)
        clean = cal.score(case.x_test)
        entry: dict[str, Any] = {
            "params": params[name],
            "threshold": threshold,
            "fpr_measured": float((clean > threshold).mean()),
            "latency_ms_one_row": _latency(lambda r, c=cal: c.score(r), case.x_test),
            "attacks": {},
        }
        for attack, result in attacks.items():
            adv = cal.score(result["x_adv"])
            entry["attacks"][attack] = {
                "tpr": float((adv > threshold).mean()) if len(adv) else None,
                "auc": _auc(clean, adv),
            }
        rows[name] = entry
    forest = calibrated["iforest"].detector
    assert isinstance(forest, IsolationForestDetector)
    walk = iforest_walk(forest, case, attacks)
    return rows, walk


def combined(case: Case, attacks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The real stage at fpr 0.01 over four detectors: a row is flagged when any of them
    flags it (what on_request blocks); AUC on minus the smallest conformal p-value."""
    detectors = ["mahalanobis", "iforest", case.squeeze_tuned, "instability"]
    stage = build(case, detectors, case.x_train, TARGET_FPR)

    def decide(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flagged = np.zeros(len(rows), dtype=bool)
        p_min = np.ones(len(rows))
        for cal in stage.calibrated:
            scores = cal.score(rows)
            flagged |= cal.flagged(scores)
            p_min = np.minimum(p_min, cal.p_values(scores))
        return flagged, -p_min

    clean_flag, clean_score = decide(case.x_test)
    _check_on_request(stage, case.x_test[:40], clean_flag[:40])
    out: dict[str, Any] = {
        "detectors": [d if isinstance(d, str) else dict(d) for d in detectors],
        "fpr": TARGET_FPR,
        "per_detector_fpr": TARGET_FPR / len(detectors),
        "fpr_measured": float(clean_flag.mean()),
        "latency_ms_one_row": _latency(lambda r: stage.on_request(GuardRequest(r)), case.x_test),
        "attacks": {},
    }
    for attack, result in attacks.items():
        flag, score = decide(result["x_adv"])
        _check_on_request(stage, result["x_adv"][:20], flag[:20])
        out["attacks"][attack] = {
            "tpr": float(flag.mean()) if len(flag) else None,
            "auc": _auc(clean_score, score),
        }
    return out


def _check_on_request(stage: DetectStage, rows: np.ndarray, expected: np.ndarray) -> None:
    """The batch arithmetic above is exactly what the stage decides per call."""
    for row, flag in zip(rows, expected, strict=True):
        blocked = stage.on_request(GuardRequest(row[None, :])).action is Action.BLOCK
        if blocked != bool(flag):
            raise RuntimeError("combined decision differs from DetectStage.on_request")


def _latency(fn: Callable[[np.ndarray], Any], rows: np.ndarray, calls: int = 200) -> float:
    """Median milliseconds of one call on one row (cycling through `rows`), on one thread:
    for a single row, a second BLAS or torch thread only adds synchronisation, and on a
    shared machine idle-spinning pools make the figures swing by tens of milliseconds."""
    import sys

    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    times = []
    with threadpool_limits(1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            for i in range(calls):
                row = rows[i % len(rows)][None, :]
                start = time.perf_counter()
                fn(row)
                times.append(time.perf_counter() - start)
        finally:
            if torch is not None:
                torch.set_num_threads(before)
    return float(np.median(times) * 1000.0)


def iforest_walk(
    forest: IsolationForestDetector, case: Case, attacks: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Our vectorised path-length walk against IsolationForest.score_samples."""
    rows = np.concatenate([case.x_test, *(a["x_adv"] for a in attacks.values())])
    diff = float(np.max(np.abs(forest.score(rows) - forest.sklearn_score(rows))))
    if diff > 1e-9:
        raise RuntimeError(f"isolation forest walk differs from scikit-learn by {diff}")
    ours = _latency(forest.score, case.x_test)
    theirs = _latency(forest.sklearn_score, case.x_test, calls=50)
    start = time.perf_counter()
    forest.score(case.x_test)
    ours_batch = time.perf_counter() - start
    start = time.perf_counter()
    forest.sklearn_score(case.x_test)
    theirs_batch = time.perf_counter() - start
    return {
        "rows_compared": len(rows),
        "max_abs_diff": diff,
        "one_row_ms": {"redwatch": ours, "sklearn": theirs},
        "one_row_speedup_sklearn_over_ours": theirs / ours,
        "batch_rows": len(case.x_test),
        "batch_ms": {"redwatch": ours_batch * 1000.0, "sklearn": theirs_batch * 1000.0},
    }


def reference_bias(case: Case) -> dict[str, Any]:
    """FPR of the model-based detectors when calibrated on the model's training rows versus
    on held-out rows it never saw (first half of x_test; FPR on the second half)."""
    half = len(case.x_test) // 2
    ref, test = case.x_test[:half], case.x_test[half:]
    out: dict[str, Any] = {"held_out_reference_rows": half, "measured_on_rows": len(test)}
    for detector in (case.squeeze_tuned, "instability"):
        name = "squeeze_tuned" if isinstance(detector, dict) else detector
        train_cal = build(case, [detector], case.x_train, TARGET_FPR).calibrated[0]
        held_cal = build(case, [detector], ref, TARGET_FPR).calibrated[0]
        out[name] = {
            "fpr_calibrated_on_training_rows": float(
                train_cal.flagged(train_cal.score(test)).mean()
            ),
            "fpr_calibrated_on_held_out_rows": float(held_cal.flagged(held_cal.score(test)).mean()),
        }
    return out


# -- driver --------------------------------------------------------------------------------
def run_case(case: Case) -> dict[str, Any]:
    start = time.perf_counter()
    attacks = attack_all(case)
    print(f"[guard_detection] {case.name}: calibrating and scoring ...", flush=True)
    detectors, walk = per_detector(case, attacks)
    stage = combined(case, attacks)
    bias = reference_bias(case)
    n_cal = len(case.x_train) - len(case.x_train) // 2
    return {
        "model": case.description,
        "reference_rows": len(case.x_train),
        "calibration_rows": n_cal,
        "held_out_clean_rows": len(case.x_test),
        "attacks": {k: {m: v for m, v in a.items() if m != "x_adv"} for k, a in attacks.items()},
        "detectors": detectors,
        "combined": stage,
        "iforest_walk": walk,
        "reference_bias": bias,
        "wall_s": time.perf_counter() - start,
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--models", default="digits,mnist", help="digits,mnist")
    return parser.parse_args()


def main() -> None:
    args = parse()
    makers = {"digits": digits_case, "mnist": mnist_case}
    results = {}
    for name in args.models.split(","):
        case = makers[name](args.quick)
        results[case.name] = run_case(case)
    rows = [
        {"model": m, "detector": d, "attack": a, **v, "fpr": r["fpr_measured"]}
        for m, c in results.items()
        for d, r in [*c["detectors"].items(), ("combined", c["combined"])]
        for a, v in r["attacks"].items()
    ]
    print_table(rows, ["model", "detector", "attack", "tpr", "auc", "fpr"])
    payload = {
        "benchmark": "guard_detection",
        "quick": args.quick,
        "seed": SEED,
        "target_fpr": TARGET_FPR,
        "headline_rule": "combined stage TPR at 1% FPR per model and attack",
        "headline": {
            m: {a: v["tpr"] for a, v in c["combined"]["attacks"].items()}
            for m, c in results.items()
        },
        "cases": results,
        "machine": machine_info(("numpy", "scikit-learn", "torch", "redwatch")),
    }
    print(write_json("guard_detection_quick" if args.quick else "guard_detection", payload))


if __name__ == "__main__":
    main()
