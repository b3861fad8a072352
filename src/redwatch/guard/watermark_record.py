"""Keyed API watermark (DAWN, Szyller et al. 2021): how a row is canonicalised and keyed,
which rows are selected and which class they are served, the stable record format
`redwatch.watermark/v1`, and the agreement score that tests a suspected surrogate.

The functions here are pure (no environment, no clock), so that an auditor holding the key
and the records can recompute every decision the guard made. docs/guard-watermark.md
describes the format field by field.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from redwatch.exceptions import DataError

SCHEMA = "redwatch.watermark/v1"
SIGNIFICANT_DIGITS = 12
MAX_RATE = 0.005
MIN_KEY_BYTES = 16
RECORD_KEYS = frozenset(
    {"schema", "key_id", "digest", "client", "row", "original", "served", "classes", "timestamp"}
)
Label = int | float | str | bool
_KEY_ID_DOMAIN = b"redwatch.watermark/key-id\x00"


def canonical_row(row: np.ndarray) -> bytes:
    """The bytes that are keyed for one row: ASCII `redwatch.watermark/v1|<d>|v1,...,vd`
    where each value is printed as C printf `%.12g` (12 significant digits; -0 as 0).

    Text rather than raw float bytes so that any language reproduces it exactly, and 12
    digits so that a JSON round trip or a last-bit difference never changes the digest.
    """
    values = np.asarray(row, dtype=np.float64).reshape(1, -1)
    return _canonical_lines(values)[0]


def row_digest(key: bytes, row: np.ndarray) -> bytes:
    """HMAC-SHA256 of the canonical row under the watermark key (32 bytes)."""
    return hmac.new(key, canonical_row(row), hashlib.sha256).digest()


def row_digests(key: bytes, rows: np.ndarray) -> list[bytes]:
    """row_digest of every row of an (n, d) array, in one pass over the rows."""
    table = np.asarray(rows, dtype=np.float64)
    lines = _canonical_lines(table.reshape(len(table), -1) if table.size else table)
    return [hmac.new(key, line, hashlib.sha256).digest() for line in lines]


def _canonical_lines(table: np.ndarray) -> list[bytes]:
    """canonical_row of each row of a 2-D float64 array (adding 0.0 turns -0.0 into 0.0)."""
    width = table.shape[1] if table.ndim == 2 else 0
    template = f"{SCHEMA}|{width}|" + ",".join([f"%.{SIGNIFICANT_DIGITS}g"] * width)
    return [(template % tuple(values)).encode("ascii") for values in (table + 0.0).tolist()]


def selection_value(digest: bytes) -> float:
    """The digest's first 8 bytes (big-endian) as a number in [0, 1): uniform over rows for
    a secret key, so selecting `value < rate` marks a `rate` fraction of distinct rows."""
    return int.from_bytes(digest[:8], "big") / 2.0**64


def is_selected(digest: bytes, rate: float) -> bool:
    """True when the row with this digest is watermarked at this rate."""
    return selection_value(digest) < rate


def watermark_index(digest: bytes, original: int, n_classes: int) -> int:
    """The class column served instead of `original`: never `original` itself, chosen by the
    digest's bytes 8..16 (big-endian) modulo n_classes - 1, so it is fixed for a row."""
    if n_classes < 2:
        raise ValueError("a watermark needs at least two classes")
    offset = 1 + int.from_bytes(digest[8:16], "big") % (n_classes - 1)
    return (original + offset) % n_classes


def key_fingerprint(key: bytes) -> str:
    """A default key id: `sha256:` and 16 hex digits of a domain-separated hash of the key,
    so records name the key that made them without revealing it."""
    return "sha256:" + hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:16]


def plain_label(value: Any) -> Label:
    """A class label as a JSON scalar (numpy scalars become Python ones)."""
    item = value.item() if isinstance(value, np.generic) else value
    if isinstance(item, bool | int | float | str):
        return item
    return str(item)


@dataclass(frozen=True)
class WatermarkRecord:
    """One watermarked answer: the key id, the HMAC digest (hex), the client, the row as the
    model saw it, the label the model gave (`original`), the label served instead, the class
    list, and the request's timestamp (seconds since the epoch)."""

    key_id: str
    digest: str
    client: str
    row: tuple[float, ...]
    original: Label
    served: Label
    classes: tuple[Label, ...]
    timestamp: float
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (exactly RECORD_KEYS); the event's `data`."""
        return {
            "schema": self.schema,
            "key_id": self.key_id,
            "digest": self.digest,
            "client": self.client,
            "row": list(self.row),
            "original": self.original,
            "served": self.served,
            "classes": list(self.classes),
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> WatermarkRecord:
        """Inverse of to_dict; DataError (one line) for any other shape or schema."""
        if not isinstance(raw, dict) or set(raw) != RECORD_KEYS:
            found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise DataError(f"not a {SCHEMA} record (keys {found})")
        if raw["schema"] != SCHEMA:
            raise DataError(f"unsupported watermark record schema {raw['schema']!r}")
        try:
            return cls(
                key_id=str(raw["key_id"]),
                digest=str(raw["digest"]),
                client=str(raw["client"]),
                row=tuple(float(v) for v in raw["row"]),
                original=plain_label(raw["original"]),
                served=plain_label(raw["served"]),
                classes=tuple(plain_label(c) for c in raw["classes"]),
                timestamp=float(raw["timestamp"]),
            )
        except (TypeError, ValueError) as exc:
            raise DataError(f"malformed {SCHEMA} record ({exc})") from None

    def verify(self, key: bytes, rate: float) -> bool:
        """True when `key` made this record: the digest matches the row, the row is selected
        at `rate`, and the served label is the one the digest picks (a forged or edited
        record fails)."""
        digest = row_digest(key, np.asarray(self.row, dtype=np.float64))
        if not hmac.compare_digest(digest.hex(), self.digest) or not is_selected(digest, rate):
            return False
        if self.original not in self.classes or self.served not in self.classes:
            return False
        original = self.classes.index(self.original)
        return self.classes[watermark_index(digest, original, len(self.classes))] == self.served


def record_rows(records: Sequence[WatermarkRecord]) -> np.ndarray:
    """The records' rows as an (n, d) float array, to ask a suspected surrogate about."""
    if not records:
        raise DataError("no watermark records")
    widths = {len(r.row) for r in records}
    if len(widths) != 1:
        raise DataError(f"watermark records have rows of different widths {sorted(widths)}")
    return np.asarray([r.row for r in records], dtype=np.float64)


@dataclass(frozen=True)
class Agreement:
    """How a suspected surrogate answers the watermarked rows: how many records, how many
    times it gave the watermark (served) label and the model's original label, the watermark
    agreement (fraction), the chance level assumed, and the one-sided binomial p-value of
    seeing that many watermark labels from a model that never saw them."""

    records: int
    watermark: int
    original: int
    rate: float
    chance: float
    p_value: float


def agreement(
    predicted: Sequence[Any] | np.ndarray,
    records: Sequence[WatermarkRecord],
    chance: float | None = None,
) -> Agreement:
    """Score `predicted` (the suspect's labels for record_rows(records), in order) against
    the records. `chance` is the probability that an independent model gives the watermark
    label of one record; None takes 1/k (k classes), which is generous to the suspect
    whenever the independent model is better than guessing."""
    labels = [plain_label(v) for v in np.asarray(predicted).reshape(-1)]
    if len(labels) != len(records) or not records:
        raise DataError(f"{len(labels)} predictions for {len(records)} watermark records")
    level = chance if chance is not None else 1.0 / max(len(r.classes) for r in records)
    if not 0.0 < level < 1.0:
        raise DataError(f"chance level must be in (0, 1), got {level}")
    marked = sum(p == r.served for p, r in zip(labels, records, strict=True))
    kept = sum(p == r.original for p, r in zip(labels, records, strict=True))
    return Agreement(
        records=len(records),
        watermark=marked,
        original=kept,
        rate=marked / len(records),
        chance=level,
        p_value=_binomial_tail(marked, len(records), level),
    )


def _binomial_tail(successes: int, trials: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, p)."""
    from scipy.stats import binom

    return float(binom.sf(successes - 1, trials, p)) if successes > 0 else 1.0
