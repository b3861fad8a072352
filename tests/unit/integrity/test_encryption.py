"""RWENC1 encryption at rest: round trips, keys, and every way a file can fail closed."""

from __future__ import annotations

import base64
import os
import random
import stat
from pathlib import Path

import pytest

from redwatch.exceptions import TargetError, UsageError
from redwatch.integrity.encryption import (
    DEFAULT_CHUNK_SIZE,
    MAGIC,
    TAG_BYTES,
    DecryptionError,
    EncryptionError,
    KeyMaterialError,
    decrypt_bytes,
    decrypt_file,
    encrypt_bytes,
    encrypt_file,
    generate_key,
    is_encrypted,
    key_id,
    read_header,
    read_key,
    require_key,
    write_key_file,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def _payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5000])
def test_round_trip_small_and_multi_chunk(size: int) -> None:
    data = _payload(size, seed=size)
    blob = encrypt_bytes(data, KEY, name="model.joblib", chunk_size=1024)
    assert is_encrypted(blob)
    chunks = max(1, -(-size // 1024))
    assert len(blob) == len(MAGIC) + 51 + len("model.joblib") + size + chunks * TAG_BYTES
    assert decrypt_bytes(blob, KEY) == data
    if size >= 64:
        assert data[:64] not in blob  # the plaintext does not leak


def test_same_plaintext_encrypts_differently_each_time() -> None:
    data = _payload(3000)
    first, second = encrypt_bytes(data, KEY), encrypt_bytes(data, KEY)
    assert first != second  # fresh salt and nonce per file
    assert decrypt_bytes(first, KEY) == decrypt_bytes(second, KEY) == data


def test_file_round_trip_with_default_chunks(tmp_path: Path) -> None:
    src, enc, dec = tmp_path / "model.bin", tmp_path / "model.bin.enc", tmp_path / "out.bin"
    data = _payload(2 * DEFAULT_CHUNK_SIZE + 12345)
    src.write_bytes(data)
    header = encrypt_file(src, enc, KEY)
    assert header.chunks == 3
    assert header.size == len(data)
    assert header.name == "model.bin"
    assert read_header(enc) == header
    assert enc.stat().st_size == header.file_length
    decrypt_file(enc, dec, KEY)
    assert dec.read_bytes() == data
    assert stat.S_IMODE(dec.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_wrong_key_fails_closed_and_names_both_keys(tmp_path: Path) -> None:
    blob = encrypt_bytes(b"secret weights" * 100, KEY)
    with pytest.raises(DecryptionError, match=f"wrong key.*{key_id(KEY)}.*{key_id(OTHER_KEY)}"):
        decrypt_bytes(blob, OTHER_KEY)
    enc, out = tmp_path / "m.enc", tmp_path / "m"
    enc.write_bytes(blob)
    with pytest.raises(DecryptionError, match="wrong key"):
        decrypt_file(enc, out, OTHER_KEY)
    assert not out.exists()


def test_every_flipped_byte_is_detected() -> None:
    data = _payload(2500, seed=7)
    blob = encrypt_bytes(data, KEY, name="m", chunk_size=1024)
    key_id_span = range(len(MAGIC) + 1, len(MAGIC) + 9)
    for offset in range(len(blob)):
        tampered = bytearray(blob)
        tampered[offset] ^= 0x01
        with pytest.raises(DecryptionError) as info:
            decrypt_bytes(bytes(tampered), KEY)
        message = str(info.value)
        assert "\n" not in message
        if offset in key_id_span:
            assert "wrong key" in message


@pytest.mark.parametrize("cut", [1, TAG_BYTES, 1024 + TAG_BYTES])
def test_truncation_and_extension_are_refused(cut: int) -> None:
    blob = encrypt_bytes(_payload(4096), KEY, chunk_size=1024)
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(blob[:-cut], KEY)
    with pytest.raises(DecryptionError, match="longer than its header"):
        decrypt_bytes(blob + b"\0" * cut, KEY)
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(blob[:20], KEY)


def test_dropping_the_last_chunk_and_fixing_the_size_is_detected() -> None:
    """A consistent-looking truncation (size field lowered) still fails authentication."""
    blob = encrypt_bytes(_payload(2048), KEY, chunk_size=1024)
    header_len = len(blob) - 2048 - 2 * TAG_BYTES
    size_at = header_len - 2 - 8
    forged = bytearray(blob[: header_len + 1024 + TAG_BYTES])
    forged[size_at : size_at + 8] = (1024).to_bytes(8, "big")
    with pytest.raises(DecryptionError, match="failed authentication at chunk 0"):
        decrypt_bytes(bytes(forged), KEY)


def test_swapped_chunks_are_detected() -> None:
    blob = encrypt_bytes(_payload(2048), KEY, chunk_size=1024)
    start = len(blob) - 2 * (1024 + TAG_BYTES)
    first, second = blob[start : start + 1040], blob[start + 1040 :]
    with pytest.raises(DecryptionError, match="authentication at chunk 0"):
        decrypt_bytes(blob[:start] + second + first, KEY)


def test_header_of_one_file_on_the_body_of_another_is_detected() -> None:
    one = encrypt_bytes(_payload(3000, 1), KEY, chunk_size=1024)
    two = encrypt_bytes(_payload(3000, 2), KEY, chunk_size=1024)
    header_len = len(one) - 3000 - 3 * TAG_BYTES
    with pytest.raises(DecryptionError, match="authentication"):
        decrypt_bytes(one[:header_len] + two[header_len:], KEY)


def test_wrong_magic_and_unknown_scheme() -> None:
    blob = encrypt_bytes(b"x" * 10, KEY)
    with pytest.raises(DecryptionError, match="not a redwatch encrypted file"):
        decrypt_bytes(b"PK\x03\x04" + blob[4:], KEY)
    with pytest.raises(DecryptionError, match="unknown encryption scheme 9"):
        decrypt_bytes(blob[: len(MAGIC)] + b"\x09" + blob[len(MAGIC) + 1 :], KEY)
    assert not is_encrypted(b"\x80\x04joblib")


def test_failed_decrypt_writes_nothing_and_keeps_existing_output(tmp_path: Path) -> None:
    data = _payload(5000, seed=3)
    enc, out = tmp_path / "m.enc", tmp_path / "m.bin"
    blob = bytearray(encrypt_bytes(data, KEY, chunk_size=1024))
    blob[-1] ^= 0xFF  # only the last chunk is bad: earlier chunks would decrypt fine
    enc.write_bytes(bytes(blob))
    with pytest.raises(DecryptionError, match="chunk 4"):
        decrypt_file(enc, out, KEY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.enc"]
    out.write_bytes(b"previous")
    with pytest.raises(DecryptionError):
        decrypt_file(enc, out, KEY, force=True)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin", "m.enc"]


def test_refuses_overwrite_unless_forced(tmp_path: Path) -> None:
    src, enc, out = tmp_path / "m", tmp_path / "m.enc", tmp_path / "m.out"
    src.write_bytes(b"weights")
    encrypt_file(src, enc, KEY)
    out.write_bytes(b"keep me")
    with pytest.raises(EncryptionError, match="already exists; pass --force"):
        decrypt_file(enc, out, KEY)
    assert out.read_bytes() == b"keep me"
    with pytest.raises(EncryptionError, match="already exists"):
        encrypt_file(src, enc, KEY)
    decrypt_file(enc, out, KEY, force=True)
    assert out.read_bytes() == b"weights"
    with pytest.raises(EncryptionError, match="already encrypted"):
        encrypt_file(enc, tmp_path / "twice", KEY)
    with pytest.raises(EncryptionError, match="cannot read"):
        encrypt_file(tmp_path / "missing", tmp_path / "x", KEY)


def test_keys_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    assert len(key) == 32
    assert key != generate_key()
    monkeypatch.setenv("RW_HEX", key.hex())
    monkeypatch.setenv("RW_B64", base64.b64encode(key).decode() + "\n")
    monkeypatch.setenv("RW_URL", base64.urlsafe_b64encode(key).decode().rstrip("="))
    for var in ("RW_HEX", "RW_B64", "RW_URL"):
        assert read_key(key_env=var) == key
    raw, text = tmp_path / "raw.key", tmp_path / "text.key"
    raw.write_bytes(key)
    write_key_file(text, key)
    assert stat.S_IMODE(text.stat().st_mode) == 0o600
    assert read_key(key_file=raw) == read_key(key_file=text) == key
    with pytest.raises(EncryptionError, match="refusing to overwrite"):
        write_key_file(text, generate_key())
    assert read_key(key_file=text) == key
    assert read_key() is None


def test_bad_key_material_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RW_SHORT", base64.b64encode(os.urandom(16)).decode())
    monkeypatch.setenv("RW_RAW32", "a" * 32)  # 32 characters of text are not a key
    monkeypatch.delenv("RW_UNSET", raising=False)
    for var, pattern in [
        ("RW_SHORT", "does not hold a 256-bit key"),
        ("RW_RAW32", "does not hold a 256-bit key"),
        ("RW_UNSET", "RW_UNSET is not set"),
    ]:
        with pytest.raises(KeyMaterialError, match=pattern):
            read_key(key_env=var)
    with pytest.raises(KeyMaterialError, match="cannot read key file"):
        read_key(key_file=tmp_path / "nope")
    with pytest.raises(KeyMaterialError, match="not both"):
        read_key(key_env="RW_SHORT", key_file=tmp_path / "nope")
    with pytest.raises(KeyMaterialError, match="no key given"):
        require_key()
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        encrypt_bytes(b"x", b"short")
    assert issubclass(KeyMaterialError, UsageError)
    assert issubclass(DecryptionError, TargetError)
