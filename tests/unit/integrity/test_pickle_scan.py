"""Pickle safety scan: real model dumps come out safe, crafted payloads come out unsafe."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from redwatch.exceptions import DataError
from redwatch.integrity import Verdict, scan_bytes, scan_file, scan_pickle_bytes
from redwatch.integrity.pickle_policy import classify
from redwatch.testing.requirements import require

X, Y = load_iris(return_X_y=True)

# os.getcwd via GLOBAL + REDUCE (protocol 0): harmless if ever run, but a code-exec gadget.
GETCWD_REDUCE = b"cos\ngetcwd\n)R."
# STACK_GLOBAL with operands taken from the memo after the original strings were popped.
STACK_GLOBAL_MEMO = b"\x80\x04\x8c\x02os\x94\x8c\x06getcwd\x94" + b"00" + b"h\x00h\x01\x93)R."
# builtins.getattr(builtins.__import__('os'), 'getcwd')()
GETATTR_CHAIN = b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVgetcwd\ntR)R."
# INST opcode: instantiate os.getcwd with no arguments.
INST_PAYLOAD = b"(ios\ngetcwd\n."


@pytest.fixture(scope="module")
def models() -> list[object]:
    rf = RandomForestClassifier(n_estimators=5, random_state=np.random.RandomState(0))
    import lightgbm
    import xgboost

    return [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, Y),
        rf.fit(X, Y),
        xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(X, Y),
        lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, Y),
        {"objects": np.array(["a", None], dtype=object), "ints": np.arange(7)},
    ]


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 1), ("xz", 1)])
def test_joblib_dumps_of_real_models_are_safe(models, tmp_path: Path, compress) -> None:
    wrappers = 0
    for i, model in enumerate(models):
        path = tmp_path / f"m{i}.joblib"
        joblib.dump(model, path, compress=compress)
        report = scan_file(path)
        assert report.verdict is Verdict.SAFE, report.summary()
        assert not report.issues
        wrappers += sum(g.name == "NumpyArrayWrapper" for g in report.globals)
    assert wrappers >= 4  # raw array payloads were really present and skipped


def test_joblib_array_bytes_are_skipped_not_parsed(models, tmp_path: Path) -> None:
    path = tmp_path / "rf.joblib"
    joblib.dump(models[1], path)
    report = scan_file(path)
    # The raw array bytes would be garbage opcodes: a clean walk proves they were skipped.
    assert report.verdict is Verdict.SAFE
    assert report.fickling_verdict not in ("LIKELY_OVERTLY_MALICIOUS", "OVERTLY_MALICIOUS")


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_plain_pickles_of_real_models_are_safe(models, protocol: int) -> None:
    for model in models[:4]:
        report = scan_pickle_bytes(pickle.dumps(model, protocol=protocol), source="m.pkl")
        assert report.verdict is Verdict.SAFE, report.summary()


@pytest.mark.parametrize(
    ("payload", "opcode", "offset"),
    [
        (GETCWD_REDUCE, "GLOBAL", 0),
        (STACK_GLOBAL_MEMO, "STACK_GLOBAL", 22),
        (INST_PAYLOAD, "INST", 1),
    ],
)
def test_code_execution_payloads_are_unsafe(payload: bytes, opcode: str, offset: int) -> None:
    report = scan_pickle_bytes(payload, source="evil.pkl")
    assert report.verdict is Verdict.UNSAFE
    bad = report.offending[0]
    assert (bad.module, bad.name, bad.opcode, bad.offset) == ("os", "getcwd", opcode, offset)
    assert "os.getcwd" in report.summary()


def test_getattr_chain_is_unsafe_and_every_global_is_reported() -> None:
    report = scan_pickle_bytes(GETATTR_CHAIN, source="evil.pkl")
    assert report.verdict is Verdict.UNSAFE
    names = {g.qualified for g in report.offending}
    assert names == {"builtins.getattr", "builtins.__import__"}
    assert report.fickling_verdict in ("LIKELY_OVERTLY_MALICIOUS", "OVERTLY_MALICIOUS")


def test_reduce_payload_object_from_python_is_unsafe() -> None:
    class Payload:
        def __reduce__(self):
            import os

            return (os.getcwd, ())

    report = scan_pickle_bytes(pickle.dumps(Payload()), source="p.pkl")
    assert report.verdict is Verdict.UNSAFE
    assert report.offending[0].module in ("posix", "nt", "os")


def test_payload_hidden_after_joblib_arrays_is_found(models, tmp_path: Path) -> None:
    buf = io.BytesIO()
    joblib.dump(models[1], buf)
    data = buf.getvalue()
    # Replace the final STOP by a second object: a REDUCE on os.getcwd, then STOP.
    evil = data[:-1] + b"0" + GETCWD_REDUCE
    report = scan_pickle_bytes(evil, source="evil.joblib")
    assert report.verdict is Verdict.UNSAFE
    assert report.offending[0].qualified == "os.getcwd"
    assert report.offending[0].offset == len(data)


def test_unknown_global_is_suspicious_not_safe() -> None:
    data = pickle.dumps(Path("x"))  # pathlib is harmless but not an ML format global
    report = scan_pickle_bytes(data, source="p.pkl")
    assert report.verdict is Verdict.SUSPICIOUS
    assert report.offending[0].module == "pathlib"


def test_compressed_malicious_pickle_is_unsafe(tmp_path: Path) -> None:
    import zlib

    path = tmp_path / "evil.joblib"
    path.write_bytes(zlib.compress(b"\x80\x04" + GETCWD_REDUCE))
    report = scan_file(path)
    assert report.format == "joblib-zlib"
    assert report.verdict is Verdict.UNSAFE


def test_torch_archives_scan_every_pickle(tmp_path: Path) -> None:
    torch = require("torch", "torch")
    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    torch.jit.save(torch.jit.script(net), tmp_path / "ts.pt")
    assert scan_file(tmp_path / "sd.pt").verdict is Verdict.SAFE
    ts = scan_file(tmp_path / "ts.pt")
    assert ts.format == "torchscript"
    assert ts.verdict is Verdict.SAFE
    assert ts.streams >= 2
    # Swap data.pkl for a payload: the archive is refused.
    src = zipfile.ZipFile(tmp_path / "sd.pt")
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as out:
        for name in src.namelist():
            body = src.read(name)
            out.writestr(name, b"\x80\x02" + GETCWD_REDUCE if name.endswith("data.pkl") else body)
    report = scan_file(tmp_path / "evil.pt")
    assert report.verdict is Verdict.UNSAFE
    assert report.offending[0].stream.endswith("data.pkl")


def test_malformed_stream_is_suspicious() -> None:
    report = scan_pickle_bytes(b"\x80\x04\xff\xfe", source="junk")
    assert report.verdict is Verdict.SUSPICIOUS
    assert "malformed" in report.issues[0]


def test_build_on_a_global_is_unsafe() -> None:
    # Sets an attribute on the class sklearn.linear_model.LogisticRegression.
    data = b"csklearn.linear_model\nLogisticRegression\n(N}VC\nI2\nstb."
    report = scan_pickle_bytes(data, source="p")
    assert report.verdict is Verdict.UNSAFE
    assert any("BUILD" in i for i in report.issues)


def test_non_pickle_content_has_no_streams() -> None:
    report = scan_bytes(b'{"learner": {}}', source="m.json")
    assert report.format == "xgboost-json"
    assert report.streams == 0
    assert report.safe


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="model file not found"):
        scan_file(tmp_path / "nope.pkl")


@pytest.mark.parametrize(
    ("module", "name", "verdict"),
    [
        ("numpy._core.multiarray", "_reconstruct", Verdict.SAFE),
        ("sklearn.tree._tree", "Tree", Verdict.SAFE),
        ("scipy.sparse._csr", "csr_matrix", Verdict.SAFE),
        ("torch", "FloatStorage", Verdict.SAFE),
        ("sklearn.utils", "some_function", Verdict.SUSPICIOUS),
        ("subprocess", "Popen", Verdict.UNSAFE),
        ("__builtin__", "eval", Verdict.UNSAFE),
        ("operator", "attrgetter", Verdict.UNSAFE),
        ("sklearn.base", "BaseEstimator.__init__.__globals__", Verdict.UNSAFE),
        ("_codecs", "encode", Verdict.SAFE),
        ("codecs", "open", Verdict.UNSAFE),
    ],
)
def test_classify(module: str, name: str, verdict: Verdict) -> None:
    assert classify(module, name)[0] is verdict
