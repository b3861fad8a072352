"""Owner secrets: reading, generating, and what is derived from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redwatch.exceptions import UsageError
from redwatch.ip.keys import generate_key, keyed_rng, public_key_hex, read_key, signing_key


def test_key_file_and_env_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = generate_key()
    path = tmp_path / "owner.key"
    path.write_text(f"  {secret}\n")
    monkeypatch.setenv("OWNER_KEY", secret)
    assert read_key(str(path)) == read_key("env:OWNER_KEY") == secret.encode()
    assert len(secret) == 64
    assert generate_key() != secret


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("env:NOT_SET_ANYWHERE", "NOT_SET_ANYWHERE"),
        ("missing.key", "key file not found"),
        ("short", "at least 16"),
        ("blank", "empty"),
    ],
)
def test_bad_keys_are_one_line_errors(
    spec: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "short").write_text("abc\n")
    (tmp_path / "blank").write_text("\n\n")
    with pytest.raises(UsageError, match=message) as info:
        read_key(spec)
    assert "\n" not in str(info.value)


def test_derived_material_depends_on_key_and_purpose() -> None:
    a, b = b"a" * 32, b"b" * 32
    assert public_key_hex(a) == public_key_hex(a) != public_key_hex(b)
    assert len(bytes.fromhex(public_key_hex(a))) == 32
    assert signing_key(a).sign(b"x") == signing_key(a).sign(b"x")  # Ed25519 is deterministic
    first = keyed_rng(a, "triggers").random(5)
    assert np.array_equal(first, keyed_rng(a, "triggers").random(5))
    assert not np.array_equal(first, keyed_rng(a, "labels").random(5))
    assert not np.array_equal(first, keyed_rng(b, "triggers").random(5))
