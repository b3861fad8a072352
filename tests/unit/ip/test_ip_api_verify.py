"""API-watermark verification on real guard records: the demo digits model behind the
`watermark` stage in process, a thief's surrogate trained on its answers, an independent
model, and every kind of log the command reads (bare records, spool events, the
`guard events --json` array, the store)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from redwatch.cli.main import main
from redwatch.demo.models import train_digits_logreg
from redwatch.exceptions import DataError
from redwatch.guard import GuardedModel, parse_policy
from redwatch.ip.api_verify import (
    BAD_LINE,
    FORGED,
    OTHER_KEY,
    LogItems,
    parse_log,
    select_records,
    verify_api,
)
from redwatch.ip.certificate import check_certificate
from redwatch.ip.keys import public_key_hex
from redwatch.store import Store
from redwatch.targets.detect import from_object
from redwatch.targets.spec import InputSpec

KEY_TEXT = "3f1c9a6e0b7d42c58e19f6a0d3b7c2e4" * 2
KEY = KEY_TEXT.encode()
OTHER_TEXT = "another-deployment-key-0123456789"


@dataclass(frozen=True)
class Theft:
    """What the API served and recorded, and the two suspects."""

    events: list[dict[str, Any]]
    foreign: list[dict[str, Any]]
    surrogate: DecisionTreeClassifier
    independent: DecisionTreeClassifier
    x_train: np.ndarray
    y_train: np.ndarray


def _serve(monkeypatch: pytest.MonkeyPatch, key: str, demo: Any, queries: np.ndarray) -> Any:
    """Answer the queries through a watermark policy under `key`; (answers, events)."""
    monkeypatch.setenv("REDWATCH_WATERMARK_KEY", key)
    events: list[dict[str, Any]] = []
    guarded = GuardedModel(
        demo.model,
        parse_policy({"stages": [{"name": "watermark"}]}, "test policy"),
        InputSpec.from_data(demo.x_train, demo.feature_names),
        sink=lambda batch: events.extend(e.to_dict() for e in batch),
    )
    answers = [guarded.predict(b, client="ip:198.51.100.9") for b in np.array_split(queries, 8)]
    return np.concatenate(answers), events


@pytest.fixture(scope="module")
def theft() -> Theft:
    """6,000 noisy digits through the guard under KEY (and 2,000 under another key)."""
    demo = train_digits_logreg(seed=0)
    rng = np.random.default_rng(3)
    queries = demo.x_train[rng.integers(0, len(demo.x_train), 6000)]
    queries = np.clip(queries + rng.normal(0.0, 0.05, queries.shape), 0.0, 1.0)
    with pytest.MonkeyPatch.context() as patch:
        answers, events = _serve(patch, KEY_TEXT, demo, queries)
        _, foreign = _serve(patch, OTHER_TEXT, demo, queries[:2000] + 1e-3)
    surrogate = DecisionTreeClassifier(random_state=0).fit(queries, answers)
    independent = DecisionTreeClassifier(random_state=0).fit(demo.x_train, demo.y_train)
    return Theft(events, foreign, surrogate, independent, demo.x_train, demo.y_train)


def _lines(items: list[Any]) -> str:
    """Items as JSON lines."""
    return "".join(json.dumps(item) + "\n" for item in items)


def test_surrogate_is_attributed_and_independent_model_is_not(theft: Theft) -> None:
    found = select_records(parse_log(_lines(theft.events), "spool.jsonl"), KEY, 0.005)
    assert len(found.records) == len(theft.events) >= 15
    stolen = verify_api(
        from_object(theft.surrogate, name="stolen"), found, KEY, suspect={"source": "stolen"}
    )
    assert stolen.test.shown
    assert stolen.test.p_value < 1e-6
    assert stolen.test.null.method == "chance-1/K"
    assert stolen.test.null.rate == pytest.approx(0.1)
    assert "null_note" in stolen.certificate["evidence"]
    check_certificate(stolen.certificate, public_key_hex(KEY))
    innocent = verify_api(
        from_object(theft.independent, name="independent"), found, KEY, suspect={"source": "i"}
    )
    assert not innocent.test.shown
    assert innocent.test.p_value > 0.01


def test_reference_models_measure_the_null(theft: Theft) -> None:
    found = select_records(LogItems(theft.events, 0, "events"), KEY, 0.005)
    refs = [
        from_object(DecisionTreeClassifier(random_state=s).fit(theft.x_train, theft.y_train))
        for s in (1, 2)
    ]
    result = verify_api(
        from_object(theft.surrogate), found, KEY, suspect={"source": "s"}, references=refs
    )
    null = result.test.null
    assert null.method == "reference-models"
    assert len(null.references) == 2
    assert all(r.trials == len(found.records) for r in null.references)
    assert result.test.shown
    assert "null_note" not in result.certificate["evidence"]


def test_records_are_filtered_and_every_rejection_has_a_reason(theft: Theft) -> None:
    edited = dict(theft.events[0]["data"])
    classes = edited["classes"]
    edited["served"] = next(c for c in classes if c not in (edited["served"], edited["original"]))
    items = [
        *theft.events,
        theft.events[2],  # the same record twice
        {**theft.events[0], "data": edited},  # a served label edited afterwards
        *theft.foreign,  # another deployment's key
        {"kind": "extraction", "data": {}},  # not a watermark event
        {"schema": "redwatch.watermark/v1"},  # not a record
    ]
    found = select_records(LogItems(items, 1, "log"), KEY, 0.005)
    assert len(found.records) == len(theft.events)
    assert found.duplicates == 1
    assert found.rejected[FORGED] == 1
    assert found.rejected[OTHER_KEY] == len(theft.foreign) > 0
    assert found.rejected[BAD_LINE] == 2
    assert found.other_events == 1


def test_no_usable_record_is_one_data_error(theft: Theft) -> None:
    with pytest.raises(DataError, match="no watermark record verifies under this key") as err:
        select_records(parse_log(_lines(theft.foreign) + "{cut off", "x.jsonl"), KEY, 0.005)
    assert "\n" not in str(err.value)
    assert "other key" in str(err.value)
    assert "1 bad line" in str(err.value)


def test_not_selected_at_a_lower_rate(theft: Theft) -> None:
    bare = LogItems([e["data"] for e in theft.events], 0, "bare")
    with pytest.raises(DataError, match=f"{len(theft.events)} not selected"):
        select_records(bare, KEY, 1e-12)


def test_events_array_is_read_like_lines(theft: Theft) -> None:
    as_array = parse_log(json.dumps(theft.events, indent=2), "events.json")
    as_lines = parse_log(_lines([e["data"] for e in theft.events]), "records.jsonl")
    assert as_array.bad_lines == as_lines.bad_lines == 0
    a, b = (select_records(log, KEY, 0.005).records for log in (as_array, as_lines))
    assert a == b


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`redwatch ip verify-api ARGS` through main(): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as done:
        main(["ip", "verify-api", *args])
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out, out.err


def test_cli_reads_the_store_and_writes_a_signed_certificate(
    theft: Theft, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with Store.open(url) as store:
        store.add_events(theft.events, "test")
    key = tmp_path / "owner.key"
    key.write_text(KEY_TEXT + "\n")
    joblib.dump(theft.surrogate, tmp_path / "s.joblib")
    joblib.dump(theft.independent, tmp_path / "i.joblib")
    cert = tmp_path / "cert.json"
    common = ["--key", str(key), "--log", "store", "--db", url]
    code, out, err = _cli(capsys, str(tmp_path / "s.joblib"), *common, "--out", str(cert))
    assert code == 0, err
    assert "verdict: ownership shown" in out
    check_certificate(json.loads(cert.read_text()), public_key_hex(KEY))
    code, out, _ = _cli(capsys, str(tmp_path / "i.joblib"), *common, "--json")
    assert code == 1
    assert json.loads(out)["test"]["verdict"] == "not shown"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--log", "missing.jsonl"], "watermark log not found"),
        (["--log", "log.jsonl", "--rate", "0.01"], "--rate must be in"),
        (["--log", "log.jsonl", "--alpha", "0"], "--alpha must be in"),
        (["--log", "garbage.jsonl"], "no watermark record verifies"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    needle: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "owner.key").write_text(KEY_TEXT)
    (tmp_path / "log.jsonl").write_text("")
    (tmp_path / "garbage.jsonl").write_text("not json\n[1, 2\n")
    code, _, err = _cli(capsys, "suspect.joblib", "--key", "owner.key", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err
