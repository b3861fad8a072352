"""Loading encrypted models: decrypted in memory only, then the normal content-based path,
pickle scan gate included."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy as np
import pytest
import xgboost
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from redwatch.exceptions import TargetError, UnsafeArtifactError
from redwatch.integrity.encryption import DecryptionError, encrypt_bytes
from redwatch.targets import load_target
from redwatch.targets.sklearn_target import SklearnTarget

X, Y = load_iris(return_X_y=True)
KEY = bytes(range(100, 132))
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_recorded: list[str] | None = None  # armed while a list


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Record every file opened for writing and every temp file or folder created."""
    if _recorded is None:
        return
    if event == "open":
        path, mode, flags = args
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        if writes or (isinstance(flags, int) and flags & _WRITE_FLAGS):
            _recorded.append(f"open {path!r} {mode!r}")
    elif event in ("tempfile.mkstemp", "tempfile.mkdtemp", "os.rename", "os.link"):
        _recorded.append(f"{event} {args!r}")


sys.addaudithook(_audit)


@contextmanager
def _record_writes() -> Iterator[list[str]]:
    global _recorded
    _recorded = []
    try:
        yield _recorded
    finally:
        _recorded = None


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression(max_iter=500).fit(X, Y)


def _dump(obj: object, compress: int = 0) -> bytes:
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=compress)
    return buf.getvalue()


def _files_with(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("compress", [0, 3])
def test_encrypted_joblib_loads_like_the_plain_file(model, tmp_path: Path, compress: int) -> None:
    path = tmp_path / "model.joblib.enc"
    path.write_bytes(encrypt_bytes(_dump(model, compress), KEY, name="model.joblib"))
    target = load_target(str(path), decryption_key=KEY)
    assert isinstance(target, SklearnTarget)
    np.testing.assert_allclose(target.predict_proba(X), model.predict_proba(X))


def test_encrypted_xgboost_model_loads(tmp_path: Path) -> None:
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "seed": 0},
        xgboost.DMatrix(X, label=Y),
        num_boost_round=5,
    )
    path = tmp_path / "booster.enc"
    path.write_bytes(encrypt_bytes(bytes(booster.save_raw("ubj")), KEY, chunk_size=4096))
    target = load_target(str(path), decryption_key=KEY)
    np.testing.assert_allclose(
        target.predict_proba(X), booster.predict(xgboost.DMatrix(X)), rtol=1e-5
    )


def test_no_plaintext_reaches_disk_during_load(
    model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _dump(model)
    needle = plain[len(plain) // 2 : len(plain) // 2 + 48]  # a distinctive stretch of weights
    store, cwd, tmp = tmp_path / "store", tmp_path / "cwd", tmp_path / "tmp"
    for folder in (store, cwd, tmp):
        folder.mkdir()
    path = store / "model.enc"
    path.write_bytes(encrypt_bytes(plain, KEY))
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    load_target(str(path), decryption_key=KEY)  # warm-up: lazy imports may write caches
    before = sorted(tmp_path.rglob("*"))

    with _record_writes() as writes:
        target = load_target(str(path), decryption_key=KEY)
    np.testing.assert_allclose(target.predict_proba(X[:3]), model.predict_proba(X[:3]))
    assert writes == []
    assert sorted(tmp_path.rglob("*")) == before
    assert _files_with(tmp_path, needle) == []

    with _record_writes() as writes:  # the recorder and the search do see a plaintext write
        (cwd / "leak.bin").write_bytes(plain)
    assert writes
    assert "leak.bin" in writes[0]
    assert _files_with(tmp_path, needle) == [cwd / "leak.bin"]


def test_encrypted_malicious_pickle_is_refused_after_decryption(model, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    plain = _dump(model)
    payload = f"cos\nsystem\n(Vtouch {marker}\ntR0".encode()
    path = tmp_path / "model.enc"
    path.write_bytes(encrypt_bytes(plain[:2] + payload + plain[2:], KEY))
    with pytest.raises(UnsafeArtifactError, match=r"refusing to load .*os\.system"):
        load_target(str(path), decryption_key=KEY)
    assert not marker.exists()


def test_trust_model_loads_what_was_decrypted(model, tmp_path: Path, capsys) -> None:
    plain = _dump(model)
    path = tmp_path / "model.enc"
    path.write_bytes(
        encrypt_bytes(plain[:2] + b"cbuiltins\nprint\n(Vdecrypted-ran\ntR0" + plain[2:], KEY)
    )
    with pytest.raises(UnsafeArtifactError, match=r"builtins\.print"):
        load_target(str(path), decryption_key=KEY)
    assert "decrypted-ran" not in capsys.readouterr().out
    target = load_target(str(path), decryption_key=KEY, trust_model=True)
    assert "decrypted-ran" in capsys.readouterr().out
    np.testing.assert_allclose(target.predict_proba(X[:3]), model.predict_proba(X[:3]))


def test_missing_wrong_key_and_tampering_fail_closed(model, tmp_path: Path) -> None:
    path = tmp_path / "model.enc"
    blob = encrypt_bytes(_dump(model), KEY)
    path.write_bytes(blob)
    with pytest.raises(DecryptionError, match=r"is encrypted .*--key-env VAR or --key-file"):
        load_target(str(path))
    with pytest.raises(DecryptionError, match="wrong key"):
        load_target(str(path), decryption_key=bytes(32))
    tampered = bytearray(blob)
    tampered[len(blob) // 2] ^= 0x40
    path.write_bytes(bytes(tampered))
    with pytest.raises(TargetError, match="failed authentication at chunk 0"):
        load_target(str(path), decryption_key=KEY)
