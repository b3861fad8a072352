"""OnnxTarget: skl2onnx outputs (with and without ZipMap) and an exported torch logits model."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from redwatch.testing.requirements import require

require("onnxruntime", "onnx")
skl2onnx = require("skl2onnx", "onnx")

from redwatch.exceptions import TargetError  # noqa: E402
from redwatch.targets.onnx_target import OnnxTarget  # noqa: E402

X, Y = load_iris(return_X_y=True)


def _skl_onnx(zipmap: bool, labels: np.ndarray) -> tuple[LogisticRegression, bytes]:
    from skl2onnx.common.data_types import FloatTensorType

    model = LogisticRegression(max_iter=500).fit(X, labels)
    onx = skl2onnx.convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(model): {"zipmap": zipmap}},
        target_opset=17,
    )
    return model, onx.SerializeToString()


@pytest.mark.parametrize("zipmap", [True, False])
@pytest.mark.parametrize("string_labels", [True, False])
def test_skl2onnx_logistic_regression(zipmap: bool, string_labels: bool) -> None:
    labels = np.array(["a", "b", "c"])[Y] if string_labels else Y + 10
    model, data = _skl_onnx(zipmap, labels)
    target = OnnxTarget(data, name="lr")
    proba = target.predict_proba(X)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-4)
    assert target.capabilities.n_classes == 3
    assert list(target.classes) == list(model.classes_)
    assert (target.predict(X) == target.encode_labels(labels)).mean() > 0.9


def test_torch_logits_model_gets_softmax(tmp_path) -> None:
    torch = require("torch", "torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.zeros(1, 4),),
            buf,
            dynamo=False,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
        )
    path = tmp_path / "net.onnx"
    path.write_bytes(buf.getvalue())
    target = OnnxTarget(str(path))
    with torch.no_grad():
        expected = torch.softmax(net(torch.tensor(X, dtype=torch.float32)), 1).numpy()
    np.testing.assert_allclose(target.predict_proba(X), expected, atol=1e-5)
    assert target.classes is None
    assert target.capabilities.n_classes == 3


def test_broken_model_is_a_target_error(tmp_path) -> None:
    with pytest.raises(TargetError, match="cannot load ONNX model"):
        OnnxTarget(b"\x08\x07garbage").session()
    with pytest.raises(TargetError, match="model file not found"):
        OnnxTarget(str(tmp_path / "none.onnx")).session()
