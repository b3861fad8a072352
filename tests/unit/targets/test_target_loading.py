"""load_target / from_object: content-based detection, round-trips, and refusal of unsafe files."""

from __future__ import annotations

import io
import pickle
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import TargetError, UnsafeArtifactError
from redwatch.targets import from_object, load_target
from redwatch.targets.sklearn_target import SklearnTarget
from redwatch.testing.requirements import require

X, Y = load_iris(return_X_y=True)
PAYLOAD_MARK = "redwatch-test-payload"


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression(max_iter=500).fit(X, Y)


def _prefixed(prefix: bytes, model: object) -> bytes:
    """A joblib dump that first runs `prefix` (a harmless call), pops it, then loads model."""
    buf = io.BytesIO()
    joblib.dump(model, buf)
    data = buf.getvalue()
    assert data[:1] == b"\x80"
    return data[:2] + prefix + b"0" + data[2:]


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3)])
def test_joblib_round_trip(model, tmp_path: Path, compress) -> None:
    path = tmp_path / "model.bin"  # extension says nothing: content decides
    joblib.dump(model, path, compress=compress)
    target = load_target(str(path))
    assert isinstance(target, SklearnTarget)
    assert target.name == "model"
    np.testing.assert_allclose(target.predict_proba(X), model.predict_proba(X))


def test_malicious_joblib_is_refused_and_trust_model_loads_it(model, tmp_path, capsys) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(_prefixed(f"cbuiltins\nprint\n(V{PAYLOAD_MARK}\ntR".encode(), model))
    with pytest.raises(UnsafeArtifactError, match=r"builtins\.print.*--trust-model"):
        load_target(str(path))
    assert PAYLOAD_MARK not in capsys.readouterr().out  # refused before anything ran
    target = load_target(str(path), trust_model=True)
    assert PAYLOAD_MARK in capsys.readouterr().out
    np.testing.assert_allclose(target.predict_proba(X[:5]), model.predict_proba(X[:5]))


def test_unsafe_pickle_renamed_onnx_is_still_scanned(model, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(_prefixed(b"cos\ngetcwd\n)R", model))
    with pytest.raises(UnsafeArtifactError, match=r"unsafe pickle, it imports os\.getcwd"):
        load_target(str(path))


def test_module_attr_reference(model, tmp_path: Path, monkeypatch) -> None:
    joblib.dump(model, tmp_path / "weights.joblib")
    (tmp_path / "rw_fixture_models.py").write_text(
        textwrap.dedent(
            f"""
            import joblib
            clf = joblib.load({str(tmp_path / "weights.joblib")!r})
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    target = load_target("rw_fixture_models:clf")
    assert (target.predict(X) == model.predict(X)).all()
    with pytest.raises(TargetError, match="has no attribute"):
        load_target("rw_fixture_models:nothing")
    with pytest.raises(TargetError, match="is not a supported model"):
        load_target("rw_fixture_models:joblib")


def test_torch_formats(tmp_path: Path, monkeypatch) -> None:
    torch = require("torch", "torch")
    (tmp_path / "rw_fixture_nets.py").write_text(
        textwrap.dedent(
            """
            import torch

            class Net(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = torch.nn.Linear(4, 3)

                def forward(self, x):
                    return self.fc(x)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from rw_fixture_nets import Net

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        expected = torch.softmax(net(torch.tensor(X, dtype=torch.float32)), 1).numpy()
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(TargetError, match="state dict; pass --model-class"):
        load_target(str(tmp_path / "sd.pt"))
    target = load_target(str(tmp_path / "sd.pt"), model_class="rw_fixture_nets:Net")
    np.testing.assert_allclose(target.predict_proba(X), expected, atol=1e-6)
    torch.jit.save(torch.jit.script(net), tmp_path / "ts.pt")
    ts = load_target(str(tmp_path / "ts.pt"))
    np.testing.assert_allclose(ts.predict_proba(X), expected, atol=1e-6)
    torch.save(net, tmp_path / "full.pt")  # pickles rw_fixture_nets.Net: not allowlisted
    with pytest.raises(UnsafeArtifactError, match=r"rw_fixture_nets\.Net"):
        load_target(str(tmp_path / "full.pt"))
    full = load_target(str(tmp_path / "full.pt"), trust_model=True)
    np.testing.assert_allclose(full.predict_proba(X), expected, atol=1e-6)


def test_onnx_xgboost_lightgbm_files(model, tmp_path: Path) -> None:
    import lightgbm
    import xgboost

    skl2onnx = require("skl2onnx", "onnx")
    from skl2onnx.common.data_types import FloatTensorType

    onx = skl2onnx.convert_sklearn(
        model, initial_types=[("input", FloatTensorType([None, 4]))], target_opset=17
    )
    (tmp_path / "lr.model").write_bytes(onx.SerializeToString())
    onnx_target = load_target(str(tmp_path / "lr.model"))
    np.testing.assert_allclose(onnx_target.predict_proba(X), model.predict_proba(X), atol=1e-4)

    params = {"objective": "multi:softprob", "num_class": 3, "nthread": 1, "seed": 0}
    booster = xgboost.train(params, xgboost.DMatrix(X, label=Y), num_boost_round=5)
    for suffix in ("json", "ubj"):
        booster.save_model(str(tmp_path / f"xgb.{suffix}"))
        (tmp_path / f"xgb.{suffix}").rename(tmp_path / f"xgb_{suffix}.bin")
        target = load_target(str(tmp_path / f"xgb_{suffix}.bin"))
        expected = booster.predict(xgboost.DMatrix(X))
        np.testing.assert_allclose(target.predict_proba(X), expected, atol=1e-6)

    lgb = lightgbm.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1}, lightgbm.Dataset(X, Y), 5
    )
    lgb.save_model(str(tmp_path / "lgb.txt"))
    target = load_target(str(tmp_path / "lgb.txt"))
    np.testing.assert_allclose(target.predict_proba(X), lgb.predict(X), atol=1e-9)


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"model file not found: .*nope\.pkl"):
        load_target(str(tmp_path / "nope.pkl"))
    (tmp_path / "weights.npy").write_bytes(b"\x93NUMPY\x01\x00junk")
    with pytest.raises(
        TargetError, match=r"unsupported model format: .*weights.npy \(detected npy\)"
    ):
        load_target(str(tmp_path / "weights.npy"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TargetError, match="unsupported model format"):
        load_target(str(tmp_path / "notes.txt"))
    with pytest.raises(TargetError, match=r"object of type builtins\.str is not a supported model"):
        from_object("a string", name="x")
    with pytest.raises(TargetError, match="not fitted"):
        from_object(LogisticRegression(), name="x")


def test_pickle_of_non_model_is_rejected_after_loading(tmp_path: Path) -> None:
    (tmp_path / "data.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(TargetError, match=r"builtins\.dict is not a supported model"):
        load_target(str(tmp_path / "data.pkl"))
