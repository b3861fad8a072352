"""Every bad input: one line on stderr naming the problem, exit 2, no traceback, and no
completed campaign left in the store."""

import json
import pickle
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


class _Payload:
    """Pickles to a call of os.getcwd: harmless, but not something a model file may do."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.getcwd, ())


def _assert_clean_failure(run, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert run.code == 2, (run.code, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert lines[0].startswith("redwatch: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def _no_campaigns(cli) -> None:  # type: ignore[no-untyped-def]
    listed = cli("findings", "list", "--json")
    assert listed.code == 0, listed.stderr
    assert json.loads(listed.stdout) == []


@pytest.fixture
def bad_files(tmp_path: Path, gbm_files) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    text = data.read_text().splitlines()
    files = {}
    nan = [*text[:2], ",".join(["nan", *text[2].split(",")[1:]]), *text[3:]]
    files["nan"] = tmp_path / "nan.csv"
    files["nan"].write_text("\n".join(nan) + "\n")
    files["cols"] = tmp_path / "cols.csv"
    files["cols"].write_text("a,b,diagnosis\n1,2,0\n3,4,1\n")
    files["garbage_model"] = tmp_path / "model.bin"
    files["garbage_model"].write_bytes(b"\x00\x01 this is not a model \xff" * 10)
    files["evil"] = tmp_path / "evil.joblib"
    files["evil"].write_bytes(pickle.dumps(_Payload()))
    files["yaml"] = tmp_path / "bad.yaml"
    files["yaml"].write_text("budget: {queries: lots}\n")
    return files


def test_missing_model_file(cli, gbm_files) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    _assert_clean_failure(cli("scan", "nope.joblib", "--data", str(data)), "nope.joblib")


def test_missing_data_file(cli, gbm_files) -> None:  # type: ignore[no-untyped-def]
    model, _ = gbm_files
    _assert_clean_failure(cli("scan", str(model), "--data", "missing.csv"), "missing.csv")


def test_absent_label_column(cli, gbm_files) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    run = cli("scan", str(model), "--data", str(data), "--label", "outcome")
    _assert_clean_failure(run, "label column 'outcome'")
    _no_campaigns(cli)


def test_nan_in_data(cli, gbm_files, bad_files) -> None:  # type: ignore[no-untyped-def]
    model, _ = gbm_files
    run = cli("scan", str(model), "--data", str(bad_files["nan"]), "--label", "diagnosis")
    _assert_clean_failure(run, "missing or infinite")
    _no_campaigns(cli)


def test_columns_that_do_not_match_the_model(cli, gbm_files, bad_files) -> None:  # type: ignore[no-untyped-def]
    model, _ = gbm_files
    run = cli("scan", str(model), "--data", str(bad_files["cols"]), "--label", "diagnosis")
    _assert_clean_failure(run)
    assert "column" in run.stderr
    _no_campaigns(cli)


def test_unsupported_model_format(cli, gbm_files, bad_files) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    run = cli("scan", str(bad_files["garbage_model"]), "--data", str(data))
    _assert_clean_failure(run, "unsupported model format")


def test_unsafe_pickle_is_refused_before_loading(cli, gbm_files, bad_files) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    run = cli("scan", str(bad_files["evil"]), "--data", str(data), "--label", "diagnosis")
    _assert_clean_failure(run, "--trust-model")
    assert "getcwd" in run.stderr


def test_bad_options(cli, gbm_files, bad_files) -> None:  # type: ignore[no-untyped-def]
    model, data = gbm_files
    base = ["scan", str(model), "--data", str(data), "--label", "diagnosis"]
    _assert_clean_failure(cli(*base, "--format", "pdfx"), "unknown report format")
    _assert_clean_failure(cli(*base, "--fail-on", "severe"), "unknown severity")
    _assert_clean_failure(cli(*base, "--probe", "evasion.nope"), "unknown probe")
    _assert_clean_failure(cli(*base, "--config", str(bad_files["yaml"])), "budget.queries")
    _assert_clean_failure(cli(*base, "--input-shape", "a,b"), "--input-shape")
    _assert_clean_failure(cli("scan", str(model)), "--data")
    _assert_clean_failure(cli("report", "ffffffff"), "no campaign")


def test_unreachable_endpoint(cli, gbm_files) -> None:  # type: ignore[no-untyped-def]
    _, data = gbm_files
    run = cli(
        "scan",
        "http://127.0.0.1:9/predict",
        "--data",
        str(data),
        "--label",
        "diagnosis",
        "--timeout",
        "1",
    )
    _assert_clean_failure(run, "127.0.0.1:9")
    _no_campaigns(cli)
