"""Signed JSON documents: a signature covers every field, and only the key's own."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from redwatch.exceptions import DataError, UsageError
from redwatch.ip.keys import public_key_hex
from redwatch.ip.signed import (
    canonical_json,
    check_signature,
    read_json,
    require_signature,
    sign_document,
    write_json_atomic,
)

KEY = b"k" * 32
DOC = {"schema": "x/v1", "n": 3, "rate": 0.125, "nested": {"b": [1, 2], "a": "é"}}


def test_canonical_form_ignores_key_order() -> None:
    shuffled = {"nested": {"a": "é", "b": [1, 2]}, "rate": 0.125, "n": 3, "schema": "x/v1"}
    assert canonical_json(DOC) == canonical_json(shuffled)
    assert canonical_json(DOC).isascii()


def test_signature_verifies_and_names_its_key() -> None:
    signed = sign_document(DOC, KEY)
    assert "signature" not in DOC
    assert check_signature(signed)
    assert check_signature(signed, public_key_hex(KEY))
    assert not check_signature(signed, public_key_hex(b"o" * 32))
    require_signature(signed, "commitment")
    with pytest.raises(UsageError, match="already signed"):
        sign_document(signed, KEY)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.__setitem__("n", 4),
        lambda d: d["nested"]["b"].append(3),
        lambda d: d.__setitem__("extra", True),
        lambda d: d["signature"].__setitem__("public_key", public_key_hex(b"o" * 32)),
        lambda d: d["signature"].__setitem__("value", "00" * 64),
        lambda d: d["signature"].__setitem__("value", "not hex"),
    ],
)
def test_any_edit_breaks_the_signature(edit: object) -> None:
    signed = copy.deepcopy(sign_document(DOC, KEY))
    edit(signed)  # type: ignore[operator]
    assert not check_signature(signed)
    with pytest.raises(DataError, match="commitment"):
        require_signature(signed, "commitment")


def test_unsigned_and_foreign_documents_are_refused() -> None:
    with pytest.raises(DataError, match="is not signed"):
        require_signature(DOC, "certificate")
    signed = sign_document(DOC, KEY)
    with pytest.raises(DataError, match="signed by another key"):
        require_signature(signed, "certificate", public_key_hex(b"o" * 32))


def test_json_round_trip_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "doc.json"
    write_json_atomic(path, sign_document(DOC, KEY))
    assert check_signature(read_json(path, "commitment"))
    assert [p.name for p in path.parent.iterdir()] == ["doc.json"]
    with pytest.raises(DataError, match="commitment not found"):
        read_json(tmp_path / "nope.json", "commitment")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_json(tmp_path / "bad.json", "commitment")
