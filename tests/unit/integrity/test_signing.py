"""Model signing: round trips, and every kind of change to a signed model is caught and named."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import SignatureError, UsageError
from redwatch.integrity.signing import (
    default_signature_path,
    generate_keypair,
    require_valid_signature,
    sign_model,
    verify_model,
)
from redwatch.integrity.signing_bundle import read_statement
from redwatch.testing.requirements import require

require("model_signing", "signing")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    pair = generate_keypair(tmp_path / "keys")
    return pair.private, pair.public


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A small model folder: weights, a config, and a nested tokenizer file."""
    root = tmp_path / "model"
    (root / "tokenizer").mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(root / "weights.npy", rng.normal(size=(64, 32)).astype(np.float32))
    (root / "config.json").write_text('{"layers": 2}', encoding="utf-8")
    (root / "tokenizer" / "vocab.txt").write_text("a\nb\nc\n", encoding="utf-8")
    return root


def test_keygen_writes_private_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pair = generate_keypair(tmp_path / "k")
    assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(pair.private.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    public = serialization.load_pem_public_key(pair.public.read_bytes())
    assert public == key.public_key()
    before = pair.private.read_bytes()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "k")
    assert pair.private.read_bytes() == before
    pair.private.unlink()  # a lone public key left behind is protected too
    with pytest.raises(UsageError, match=r"public\.pem"):
        generate_keypair(tmp_path / "k")


def test_folder_round_trip_with_signature_inside(model_dir: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    sig = sign_model(model_dir, private)
    assert sig == model_dir / "model.sig" == default_signature_path(model_dir)
    result = verify_model(model_dir, public)
    assert result.files == 3
    names = set(read_statement(sig).resources)
    assert names == {"weights.npy", "config.json", "tokenizer/vocab.txt"}
    require_valid_signature(model_dir, public)


def test_single_file_round_trip_with_signature_beside(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    model = tmp_path / "clf.bin"
    model.write_bytes(bytes(range(256)) * 16)
    sig = sign_model(model, private)
    assert sig == tmp_path / "clf.bin.sig"
    assert verify_model(model, public).files == 1
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    with pytest.raises(SignatureError, match=r"modified clf\.bin"):
        verify_model(model, public)


@pytest.mark.parametrize("offset", [0, 1000, -1])
def test_one_flipped_byte_names_the_file(
    model_dir: Path, keys: tuple[Path, Path], offset: int
) -> None:
    private, public = keys
    sign_model(model_dir, private)
    weights = model_dir / "weights.npy"
    data = bytearray(weights.read_bytes())
    data[offset] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(SignatureError) as info:
        verify_model(model_dir, public)
    message = str(info.value)
    assert "modified weights.npy" in message
    assert "config.json" not in message
    assert "\n" not in message


def test_extra_and_missing_files_are_named(model_dir: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    sign_model(model_dir, private)
    (model_dir / "tokenizer" / "merges.txt").write_text("x y\n", encoding="utf-8")
    with pytest.raises(SignatureError, match=r"extra tokenizer/merges\.txt"):
        verify_model(model_dir, public)
    (model_dir / "tokenizer" / "merges.txt").unlink()
    (model_dir / "config.json").unlink()
    with pytest.raises(SignatureError, match=r"missing config\.json$"):
        verify_model(model_dir, public)


def test_renamed_file_counts_as_one_extra_and_one_missing(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    sign_model(model_dir, private)
    (model_dir / "config.json").rename(model_dir / "config2.json")
    with pytest.raises(SignatureError, match=r"extra config2\.json; missing config\.json"):
        verify_model(model_dir, public)


def test_wrong_key_is_refused(model_dir: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, _ = keys
    other = generate_keypair(tmp_path / "other")
    sign_model(model_dir, private)
    with pytest.raises(SignatureError, match="does not verify with the key"):
        verify_model(model_dir, other.public)


def test_forged_manifest_inside_the_signature_is_refused(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    """An attacker who edits the weights and the digest in the bundle breaks the signature."""
    private, public = keys
    sig = sign_model(model_dir, private)
    (model_dir / "config.json").write_text('{"layers": 3}', encoding="utf-8")
    bundle = json.loads(sig.read_text(encoding="utf-8"))
    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    import hashlib

    new = hashlib.sha256(b'{"layers": 3}').hexdigest()
    for resource in payload["predicate"]["resources"]:
        if resource["name"] == "config.json":
            resource["digest"] = new
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    sig.write_text(json.dumps(bundle), encoding="utf-8")
    with pytest.raises(SignatureError, match=r"does not verify|invalid"):
        verify_model(model_dir, public)


def test_signature_file_is_never_hashed(model_dir: Path, keys: tuple[Path, Path]) -> None:
    """Re-signing with the old signature present, or a custom name inside, still verifies."""
    private, public = keys
    sig = sign_model(model_dir, private)
    sign_model(model_dir, private)  # model.sig exists now: it must not become part of the model
    assert "model.sig" not in read_statement(sig).resources
    assert "model.sig" in read_statement(sig).serialization.ignore_paths
    verify_model(model_dir, public)
    signed = set(read_statement(sig).resources)
    sig.unlink()
    custom = model_dir / "release.sig"
    sign_model(model_dir, private, custom)
    assert set(read_statement(custom).resources) == signed
    verify_model(model_dir, public, custom)


def test_git_metadata_is_ignored_like_model_signing(
    model_dir: Path, keys: tuple[Path, Path]
) -> None:
    private, public = keys
    (model_dir / ".git").mkdir()
    (model_dir / ".git" / "HEAD").write_text("ref: main\n", encoding="utf-8")
    sign_model(model_dir, private)
    (model_dir / ".git" / "HEAD").write_text("ref: other\n", encoding="utf-8")
    (model_dir / ".gitattributes").write_text("*.npy lfs\n", encoding="utf-8")
    verify_model(model_dir, public)


def test_unsigned_and_malformed_signatures(model_dir: Path, keys: tuple[Path, Path]) -> None:
    _, public = keys
    with pytest.raises(SignatureError, match="unsigned"):
        require_valid_signature(model_dir, public)
    bad = model_dir.parent / "bad.sig"
    bad.write_text("not json at all", encoding="utf-8")
    with pytest.raises(SignatureError, match="not a model-signing signature bundle"):
        verify_model(model_dir, public, bad)
    bad.write_text('{"dsseEnvelope": {"payload": "!!!"}}', encoding="utf-8")
    with pytest.raises(SignatureError, match="not a model-signing signature bundle"):
        verify_model(model_dir, public, bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SignatureError, match="not UTF-8"):
        verify_model(model_dir, public, bad)
