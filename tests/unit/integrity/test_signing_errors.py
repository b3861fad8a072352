"""Model signing: bad keys and unreadable paths end in one-line redwatch errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from redwatch.exceptions import RedwatchError, SignatureError, TargetError, UsageError
from redwatch.integrity.signing import generate_keypair, sign_model, verify_model
from redwatch.integrity.signing_diff import describe_mismatch
from redwatch.testing.requirements import require

require("model_signing", "signing")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    pair = generate_keypair(tmp_path / "keys")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"\x01\x02\x03" * 100)
    return model, pair.private, pair.public


def _write_key(path: Path, key: object) -> Path:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    return path


def test_missing_model_key_and_signature_folder(setup: tuple[Path, Path, Path]) -> None:
    model, private, _ = setup
    with pytest.raises(UsageError, match="model path not found"):
        sign_model(model / "nope", private)
    with pytest.raises(UsageError, match="private key not found"):
        sign_model(model, model.parent / "missing.pem")
    with pytest.raises(UsageError, match="public key not found"):
        verify_model(model, model.parent / "missing.pem")
    with pytest.raises(UsageError, match="does not exist"):
        sign_model(model, private, model.parent / "no" / "such" / "x.sig")
    with pytest.raises(UsageError, match="is a folder"):
        sign_model(model, private, model.parent)


def test_keys_of_the_wrong_kind(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    model, private, public = setup
    with pytest.raises(UsageError, match="not a PEM private key"):
        sign_model(model, public)
    with pytest.raises(UsageError, match="looks like a private key"):
        verify_model(model, private)
    rsa_key = _write_key(tmp_path / "rsa.pem", rsa.generate_private_key(65537, 2048))
    with pytest.raises(UsageError, match="not an elliptic-curve key"):
        sign_model(model, rsa_key)
    k1 = _write_key(tmp_path / "k1.pem", ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(UsageError, match="secp256k1"):
        sign_model(model, k1)
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(os.urandom(64))
    with pytest.raises(UsageError, match="not a PEM"):
        sign_model(model, garbage)


def test_p384_keys_work(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    model, _, _ = setup
    key = ec.generate_private_key(ec.SECP384R1())
    private = _write_key(tmp_path / "p384.pem", key)
    public = tmp_path / "p384.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    sign_model(model, private)
    assert verify_model(model, public).files == 1


def test_symlinks_and_special_files_are_refused(setup: tuple[Path, Path, Path]) -> None:
    model, private, public = setup
    sign_model(model, private)
    link = model / "dangling"
    link.symlink_to(model / "gone")
    with pytest.raises(TargetError, match="symbolic link") as info:
        verify_model(model, public)
    assert not isinstance(info.value, SignatureError)
    with pytest.raises(TargetError, match="dangling"):
        sign_model(model, private)
    link.unlink()
    os.mkfifo(model / "pipe")
    with pytest.raises(TargetError, match=r"special file.*pipe"):
        sign_model(model, private)
    with pytest.raises(TargetError, match="special file"):
        verify_model(model, public)


def test_model_path_that_is_a_symlink_names_the_real_path(
    setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    model, private, _ = setup
    link = tmp_path / "current"
    link.symlink_to(model)
    with pytest.raises(TargetError, match=r"pass the real path: .*model$"):
        sign_model(link, private)


def test_signature_cannot_be_the_model(tmp_path: Path, setup: tuple[Path, Path, Path]) -> None:
    model, private, _ = setup
    with pytest.raises(RedwatchError, match="cannot be the model"):
        sign_model(model / "w.bin", private, model / "w.bin")


def test_describe_mismatch_groups_shards_and_truncates(tmp_path: Path) -> None:
    expected = {"a.bin:0:10": "1", "a.bin:10:20": "2", "b.bin:0:5": "3"}
    actual = {"a.bin:0:10": "1", "a.bin:10:20": "X", "c.bin:0:1": "4"}
    line = describe_mismatch(expected, actual, tmp_path, sharded=True)
    assert line == "modified a.bin; extra c.bin; missing b.bin"
    many = {f"f{i:02d}": "0" for i in range(8)}
    assert describe_mismatch({}, many, tmp_path) == "extra f00, f01, f02, f03, f04 (+3 more)"
    assert describe_mismatch({".": "0"}, {".": "1"}, tmp_path / "m.pt") == "modified m.pt"
