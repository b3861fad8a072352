"""A whole campaign in process: planning, running, storing, diffing, reports, evidence."""

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.tree import DecisionTreeClassifier

from redwatch.engine.campaign import ScanOptions, run_scan
from redwatch.engine.data import Dataset
from redwatch.engine.planner import Plan, PlannedProbe
from redwatch.engine.runner import CampaignInput, CampaignRunner
from redwatch.exceptions import DataError, StoreError
from redwatch.findings import Category, Finding
from redwatch.probes.base import Budget, Probe, ProbeContext
from redwatch.store.repository import Store
from redwatch.targets.base import Target
from redwatch.targets.sklearn_target import SklearnTarget


def _stump_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(600, 3))
    return x, (x[:, 0] > 0.5).astype(int)


@pytest.fixture
def store(tmp_path: Path) -> Iterable[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'rw.db'}") as s:
        yield s


def _options(out: Path, **kw: object) -> ScanOptions:
    params = {
        "evasion.noise": {"samples": 300, "draws": 3, "epsilons": [0.3], "reference_epsilon": 0.3},
        "evasion.sensitivity": {"samples": 300},
        "evasion.hopskipjump": {"samples": 10, "max_queries": 200},
        "evasion.square": {"samples": 20, "max_queries": 100},
    }
    return ScanOptions(out_dir=out, params=params, formats=("json", "md"), **kw)  # type: ignore[arg-type]


def test_scan_stores_reports_and_diffs_fixed_findings(store: Store, tmp_path: Path) -> None:
    x, y = _stump_data()
    data = Dataset(x, y, ["a", "b", "c"], "y", "synthetic")
    brittle = SklearnTarget(DecisionTreeClassifier(max_depth=1).fit(x, y), name="m")
    first = run_scan(brittle, "sklearn", data, store, _options(tmp_path / "r1"))
    assert first.status == "completed"
    probes = {f.probe for f in first.findings}
    assert {"evasion.noise", "evasion.sensitivity"} <= probes
    assert set(first.diff.values()) == {"new"}
    assert Path(first.report_paths["json"]).exists()
    assert Path(first.report_paths["md"]).exists()
    saved = [e.path for f in first.findings for e in f.evidence if e.path]
    assert saved
    assert all((tmp_path / "r1" / p).exists() for p in saved)
    assert first.config["clean_accuracy"] == 1.0

    again = run_scan(brittle, "sklearn", data, store, _options(tmp_path / "r2"))
    assert set(again.diff.values()) == {"open"}

    robust = SklearnTarget(DummyClassifier(strategy="most_frequent").fit(x, y), name="m")
    third = run_scan(robust, "sklearn", data, store, _options(tmp_path / "r3"))
    runs = {r.probe: r for r in third.probes}
    assert runs["evasion.noise"].metrics["accuracy_drop"] == 0.0  # measured, not a finding
    assert runs["evasion.sensitivity"].metrics["single_feature_flip_rate"] == 0.0
    fixed = {f["probe"] for f in third.fixed}
    assert {"evasion.noise", "evasion.sensitivity"} <= fixed
    assert all(f["title"] for f in third.fixed)


def test_columns_are_matched_by_name_and_mismatches_are_clear(store: Store, tmp_path: Path) -> None:
    x, y = _stump_data()
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    model = DecisionTreeClassifier(max_depth=1).fit(frame, y)
    shuffled = Dataset(x[:, [2, 0, 1]], y, ["c", "a", "b"], "y", "shuffled.csv")
    result = run_scan(
        SklearnTarget(model, name="named"),
        "sklearn",
        shuffled,
        store,
        _options(tmp_path / "o", probes=["evasion.sensitivity"]),
    )
    ranked = result.findings[0].metrics["flip_rate_by_feature"]
    assert ranked[0]["feature"] == "a"
    wrong = Dataset(x, y, ["a", "b", "z"], "y", "wrong.csv")
    with pytest.raises(DataError, match=r"lacks column.*c"):
        run_scan(
            SklearnTarget(model, name="named"), "sklearn", wrong, store, _options(tmp_path / "o2")
        )


def test_unknown_labels_are_a_data_error(store: Store, tmp_path: Path) -> None:
    x, y = _stump_data()
    target = SklearnTarget(DecisionTreeClassifier(max_depth=1).fit(x, y), name="m")
    data = Dataset(x, np.where(y == 1, 7, 0), ["a", "b", "c"], "y", "d.csv")
    with pytest.raises(DataError, match="label 7 is not a class"):
        run_scan(target, "sklearn", data, store, _options(tmp_path))


class _Broken(Probe):
    name: ClassVar[str] = "evasion.broken"
    category: ClassVar[Category] = Category.EVASION
    requires: ClassVar[frozenset[str]] = frozenset({"labels"})
    references: ClassVar[tuple[str, ...]] = ("AML.T0015",)
    description: ClassVar[str] = "always fails"

    def run(self, target: Target, ctx: ProbeContext) -> list[Finding]:
        raise ZeroDivisionError("bug in a probe")


def _inputs(x: np.ndarray, y: np.ndarray) -> CampaignInput:
    return CampaignInput(x, y, config={})


def test_a_failing_probe_is_recorded_and_the_campaign_goes_on(store: Store, tmp_path: Path) -> None:
    from redwatch.probes.evasion.noise import NoiseRobustnessProbe

    x, y = _stump_data()
    target = SklearnTarget(DecisionTreeClassifier(max_depth=1).fit(x, y), name="m")
    from redwatch.targets.spec import InputSpec

    target.set_input_spec(InputSpec.from_data(x, ["a", "b", "c"]))
    plan = Plan(
        [
            PlannedProbe(_Broken, Budget()),
            PlannedProbe(NoiseRobustnessProbe, Budget(), {"samples": 300}),
        ],
        [],
    )
    result = CampaignRunner(store, tmp_path, formats=("json",)).run(
        target, "sklearn", _inputs(x, y), plan
    )
    runs = {r.probe: r for r in result.probes}
    assert runs["evasion.broken"].status == "error"
    assert "ZeroDivisionError" in runs["evasion.broken"].message
    assert runs["evasion.noise"].status == "ok"
    assert store.get_campaign(result.id)["status"] == "completed"  # type: ignore[index]


def test_query_budget_per_probe_is_enforced(store: Store, tmp_path: Path) -> None:
    from redwatch.probes.evasion.noise import NoiseRobustnessProbe
    from redwatch.targets.spec import InputSpec

    x, y = _stump_data()
    target = SklearnTarget(DecisionTreeClassifier(max_depth=1).fit(x, y), name="m")
    target.set_input_spec(InputSpec.from_data(x, ["a", "b", "c"]))
    plan = Plan([PlannedProbe(NoiseRobustnessProbe, Budget(queries=500), {"samples": 300})], [])
    result = CampaignRunner(store, tmp_path, formats=("json",)).run(
        target, "sklearn", _inputs(x, y), plan
    )
    (run,) = result.probes
    assert run.status == "budget"
    assert run.queries <= 500


def test_store_failure_leaves_no_reports_or_evidence(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = _stump_data()
    data = Dataset(x, y, ["a", "b", "c"], "y", "synthetic")
    target = SklearnTarget(DecisionTreeClassifier(max_depth=1).fit(x, y), name="m")

    def refuse(result: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(store, "complete_campaign", refuse)
    out = tmp_path / "out"
    with pytest.raises(StoreError, match="disk full"):
        run_scan(target, "sklearn", data, store, _options(out))
    assert not list(out.glob("report.*"))
    assert not [p for p in (out / "evidence").rglob("*") if p.is_file()]


def test_large_data_is_sampled_at_random_not_truncated(tmp_path: Path) -> None:
    from redwatch.engine.campaign import prepare_input

    x, y = _stump_data()
    target = SklearnTarget(DecisionTreeClassifier(max_depth=1).fit(x, y), name="m")
    data = Dataset(x, y, ["a", "b", "c"], "y", "d.csv")
    inputs = prepare_input(target, data, ScanOptions(out_dir=tmp_path, max_rows=100))
    assert len(inputs.x) == 100
    picked = [int(np.flatnonzero((x == row).all(axis=1))[0]) for row in inputs.x]
    assert picked == sorted(picked)  # file order kept
    assert max(picked) > 300  # drawn from the whole file, not its first 100 rows
