"""watermark: a keyed API watermark (DAWN, Szyller et al. 2021). A `rate` fraction of
distinct rows, picked by an HMAC of the row under a secret key, is answered with another
class, the same one every time that row is asked; each such answer is recorded, so that a
model later trained on this API's answers can be recognised by repeating the recorded
wrong labels.

List it before `output` in the policy: response stages run bottom to top, so `output`
hardens the probabilities first and the watermark has the last word on what is served.
"""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np
from pydantic import Field, StrictFloat, StrictInt, StrictStr

from redwatch.exceptions import UsageError
from redwatch.guard.stage import (
    Action,
    Decision,
    GuardEvent,
    GuardRequest,
    GuardResponse,
    GuardStage,
    StageOptions,
)
from redwatch.guard.watermark_record import (
    MAX_RATE,
    MIN_KEY_BYTES,
    Label,
    WatermarkRecord,
    is_selected,
    key_fingerprint,
    plain_label,
    row_digests,
    watermark_index,
)

DEFAULT_KEY_ENV = "REDWATCH_WATERMARK_KEY"


class WatermarkOptions(StageOptions):
    """`rate`: fraction of distinct rows marked (at most 0.005); `key_env`: the environment
    variable holding the secret key; `key_id`: the name records give the key (default: a
    fingerprint of it); `classes`: the model's labels when no local model tells them."""

    rate: float = Field(default=MAX_RATE, gt=0, le=MAX_RATE, allow_inf_nan=False)
    key_env: str = Field(default=DEFAULT_KEY_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    key_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    classes: list[StrictInt | StrictFloat | StrictStr] | None = Field(default=None, min_length=2)


class WatermarkStage(GuardStage):
    """Serve a keyed, reproducible wrong label for a rare fraction of rows and record it."""

    name: ClassVar[str] = "watermark"
    description: ClassVar[str] = (
        "Keyed API watermark (DAWN): a rare HMAC-selected fraction of rows gets another label."
    )
    options_model: ClassVar[type[StageOptions]] = WatermarkOptions
    relabels: ClassVar[bool] = True
    options: WatermarkOptions
    key: bytes
    key_id: str
    classes: list[Label]

    def check(self) -> None:
        """Read the key from the environment and settle the class list (UsageError when
        either is missing), once at build time."""
        self.key = self._read_key()
        self.key_id = self.options.key_id or key_fingerprint(self.key)
        self.classes = self._known_classes()

    def _read_key(self) -> bytes:
        """The secret key's UTF-8 bytes; it never appears in a policy, event or record."""
        env = self.options.key_env
        text = os.environ.get(env)
        if not text:
            raise UsageError(
                f"stage watermark: environment variable {env} is not set "
                f"(the secret watermark key, at least {MIN_KEY_BYTES} bytes)"
            )
        key = text.encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise UsageError(
                f"stage watermark: the key in {env} has {len(key)} bytes; "
                f"use at least {MIN_KEY_BYTES} random bytes"
            )
        return key

    def _known_classes(self) -> list[Label]:
        """The class labels from the options, else from the local model."""
        raw = self.options.classes
        if raw is None and self.context.classes is not None:
            raw = [plain_label(c) for c in np.asarray(self.context.classes).reshape(-1)]
        if raw is None:
            raise UsageError(
                "stage watermark: needs the model's classes: set its `classes` option "
                "(there is no local model to read them from)"
            )
        if len(set(raw)) != len(raw) or len(raw) < 2:
            raise UsageError("stage watermark: classes must be at least two distinct labels")
        return list(raw)

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        """Allow when no row is selected; otherwise serve each selected row its watermark
        class (labels and probabilities alike) with one `watermark` event per row."""
        digests = row_digests(self.key, request.rows)
        picked = [i for i, d in enumerate(digests) if is_selected(d, self.options.rate)]
        if not picked:
            return Decision.allow()
        classes = self._columns(response)
        if classes is None or np.shape(response.labels)[:1] != (len(request.rows),):
            event = self.event(
                request, "watermark_skipped", Action.ALLOW,
                "the response does not match the rows or the watermark's classes",
                rows=len(picked),
            )  # fmt: skip
            return Decision.allow((event,))
        return self._mark(request, response, classes, {i: digests[i] for i in picked})

    def _columns(self, response: GuardResponse) -> list[Label] | None:
        """The labels of the response's probability columns (the stage's classes when the
        response names none); None when they cannot be matched up."""
        if response.classes is not None:
            named = [plain_label(c) for c in np.asarray(response.classes).reshape(-1)]
        else:
            named = self.classes
        if response.proba is not None and np.shape(response.proba)[1] != len(named):
            return None
        return named if len(named) >= 2 else None

    def _mark(
        self,
        request: GuardRequest,
        response: GuardResponse,
        classes: list[Label],
        digests: dict[int, bytes],
    ) -> Decision:
        """The modified response and one event (holding the record) per marked row."""
        labels = np.asarray(response.labels)
        proba = None if response.proba is None else np.array(response.proba, dtype=np.float64)
        column = {label: j for j, label in enumerate(classes)}
        served: dict[int, Label] = {}
        events: list[GuardEvent] = []
        for i, digest in digests.items():
            original = column.get(plain_label(labels[i]))
            if original is None and proba is not None:
                original = int(proba[i].argmax())
            if original is None:
                continue
            chosen = watermark_index(digest, original, len(classes))
            if proba is not None:
                _promote(proba[i], chosen)
            served[i] = classes[chosen]
            record = self._record(request, i, digest, classes, original, chosen)
            events.append(self._event(request, i, record))
        if not served:
            return Decision.allow()
        new = GuardResponse(_relabelled(labels, served), proba, response.classes)
        return Decision.modify(response=new, events=tuple(events))

    def _record(
        self,
        request: GuardRequest,
        i: int,
        digest: bytes,
        classes: list[Label],
        original: int,
        chosen: int,
    ) -> WatermarkRecord:
        """The stable record of one watermarked answer."""
        return WatermarkRecord(
            key_id=self.key_id,
            digest=digest.hex(),
            client=request.client,
            row=tuple(float(v) for v in np.asarray(request.rows[i]).reshape(-1)),
            original=classes[original],
            served=classes[chosen],
            classes=tuple(classes),
            timestamp=float(request.timestamp),
        )

    def _event(self, request: GuardRequest, i: int, record: WatermarkRecord) -> GuardEvent:
        """A `watermark` event whose data is the record."""
        detail = f"row {i}: label {record.original!r} served as {record.served!r}"
        return GuardEvent(
            self.name, "watermark", Action.MODIFY, detail, request.client,
            record.to_dict(), timestamp=float(request.timestamp),
        )  # fmt: skip


def _promote(row: np.ndarray, chosen: int) -> None:
    """Swap the row's top probability into column `chosen` (in place), nudging it one ulp
    above any tie, so that the argmax a score client reads is the served label."""
    top = int(row.argmax())
    row[top], row[chosen] = row[chosen], row[top]
    others = np.delete(row, chosen)
    if others.size and others.max() >= row[chosen]:
        row[chosen] = np.nextafter(others.max(), np.inf)


def _relabelled(labels: np.ndarray, served: dict[int, Label]) -> np.ndarray:
    """A copy of `labels` with the served labels put in (keeping a numeric dtype)."""
    out = labels.astype(object)
    for i, label in served.items():
        out[i] = label
    if labels.dtype == object:
        return out
    return np.asarray(out.tolist(), dtype=None if labels.dtype.kind in "US" else labels.dtype)
