"""`redwatch data scan --kind interactions` end to end: a seeded shilling attack on
MovieLens-100k is found (exit 1) and quarantined row by row; clean ratings exit 0; bad
interaction files and a missing --label for tabular data exit 2 and write nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from redwatch.data.shilling_attacks import AttackSpec, inject_attack
from redwatch.demo.movielens import load_movielens_100k

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int]]:
    """MovieLens-100k with 28 average-attack profiles (3 %), rating column named stars."""
    injection = inject_attack(load_movielens_100k(), AttackSpec("average", seed=11))
    path = tmp_path_factory.mktemp("ml") / "ratings.csv"
    injection.frame.rename(columns={"rating": "stars"}).to_csv(path, index=False)
    return path, set(injection.fake_users.tolist())


def _records(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_fake_cluster_found_and_quarantined(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, poisoned: tuple[Path, set[int]]
) -> None:
    path, truth = poisoned
    args = ["data", "scan", str(path), "--kind", "interactions", "--label", "stars"]
    run = cli(*args, "--quarantine", "q/fake.csv", "--out", "rep", "--json")
    assert run.code == 1, run.stderr
    doc = run.json()
    shilling = doc["summary"]["detectors"]["shilling"]
    flagged_users = set(shilling["flagged_users"])
    assert len(flagged_users & truth) >= 0.9 * len(truth)
    assert len(flagged_users - truth) <= 9
    assert shilling["clusters"][0]["targets"][0]["rating"] == 5.0
    assert doc["summary"]["label"] == "stars"
    assert doc["summary"]["kind"] == "interactions"
    body = _records(path)[1:]
    rows = {f["row"] for f in doc["flagged"]}
    assert rows == {i for i, rec in enumerate(body) if int(rec[0]) in flagged_users}
    quarantined = _records(tmp_path / "q" / "fake.csv")
    clean = _records(tmp_path / "q" / "fake.clean.csv")
    assert quarantined[1:] == [body[i] for i in sorted(rows)]
    assert len(clean) - 1 == len(body) - len(rows)
    assert "rows flagged" in (tmp_path / "rep" / "data-scan.html").read_text()


def test_clean_ratings_exit_zero(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_movielens_100k().to_csv(tmp_path / "ml.csv", index=False)
    run = cli("data", "scan", "ml.csv", "--kind", "interactions")
    assert run.code == 0, run.stdout + run.stderr
    assert "0 of 100000 rows flagged" in run.stdout


def _small() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "user": np.repeat(np.arange(12), 5),
            "item": np.tile(np.arange(5), 12),
            "rating": rng.integers(1, 6, 60),
            "timestamp": np.arange(60) * 100,
        }
    )


@pytest.mark.parametrize(
    ("frame", "extra", "message"),
    [
        (_small().drop(columns="item"), [], "missing column(s) item"),
        (_small().assign(rating=[np.nan, *range(59)]), [], "'rating' is empty at row 0"),
        (_small().assign(rating=["x", *range(59)]), [], "'rating' is not a finite number"),
        (_small(), ["--label", "score"], "missing column(s) score"),
        (_small(), ["--kind", "tabular"], "--label is required for --kind tabular"),
    ],
)
def test_bad_input_exits_two_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, frame: pd.DataFrame, extra: list[str], message: str
) -> None:
    frame.to_csv(tmp_path / "bad.csv", index=False)
    kind = [] if "--kind" in extra else ["--kind", "interactions"]
    run = cli("data", "scan", "bad.csv", *kind, *extra, "--out", "o", "--quarantine", "q.csv")
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "q.csv").exists()
