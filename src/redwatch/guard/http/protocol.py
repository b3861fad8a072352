"""The guard's HTTP protocol as pure functions on bytes and arrays: request bodies
(`{"instances": [[...], ...]}`) in, answers (`labels`, `probabilities`, `classes`) out, the
same answers read back from an upstream or a wrapped app, and the one-line JSON error body.

Every refusal is an HttpError carrying the status, the stage to blame and a one-line message,
so that the proxy, the middleware and the bare model server answer errors identically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from redwatch.guard.stage import GuardEvent, GuardResponse

MAX_MESSAGE = 300
METHODS = ("predict", "predict_proba")
KINDS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "client_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "circuit_open",
    504: "upstream_timeout",
}
INTERNAL_ERROR = "internal error (see server log)"
# Built once: json.loads / json.dumps with options build a fresh decoder / encoder per call.
_FLOATS = json.JSONDecoder(parse_int=float)
_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class HttpError(Exception):
    """A refusal on the wire: status, one-line message, the stage to blame ("proxy" for the
    HTTP layer itself) and, for 429 and 503, how many seconds the client should wait."""

    def __init__(
        self, message: str, status: int, stage: str = "proxy", retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = one_line(message)
        self.status = status
        self.stage = stage
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        """The event kind for this status (`proxy_error` for one without a name)."""
        return KINDS.get(self.status, "proxy_error")


def one_line(text: str) -> str:
    """The first line of `text`, capped, so that an error body never carries a traceback."""
    lines = str(text).strip().splitlines()
    line = lines[0] if lines else "error"
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def error_body(message: str, status: int, stage: str = "proxy") -> bytes:
    """`{"error": ..., "status": N, "stage": ...}` as compact JSON bytes."""
    return _dumps({"error": one_line(message), "status": status, "stage": stage})


def method_of(path: str) -> str:
    """The model method a guarded path calls: `predict_proba` when the path's last segment
    says so, `predict` otherwise."""
    return "predict_proba" if path.rstrip("/").rsplit("/", 1)[-1] == "predict_proba" else "predict"


def is_json_media(content_type: str | None) -> bool:
    """True for a missing Content-Type (lenient clients) or any JSON media type."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json", "text/json") or media.endswith("+json")


def parse_instances(body: bytes) -> np.ndarray:
    """The request's rows as an (n, d) float64 array, n, d >= 1; HttpError 400 naming what is
    wrong otherwise. NaN and Infinity literals pass (as non-finite floats) so that the
    `validate` stage can record and refuse them with 422."""
    try:
        data = _FLOATS.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise HttpError(f"body is not valid JSON ({_reason(exc)})", 400) from None
    if not isinstance(data, dict):
        raise HttpError('body must be a JSON object like {"instances": [[...], ...]}', 400)
    if "instances" not in data:
        raise HttpError('body has no "instances"', 400)
    return _rows(data["instances"], b"true" in body or b"false" in body)


def _rows(instances: Any, maybe_bool: bool) -> np.ndarray:
    """A list of equal-length lists of numbers as a float64 matrix (HttpError 400 otherwise);
    `maybe_bool` asks for the exact scan that refuses true/false hidden among numbers."""
    if not isinstance(instances, list) or not instances:
        raise HttpError('"instances" must be a non-empty list of rows', 400)
    if not all(isinstance(row, list) for row in instances):
        raise HttpError('"instances" must be a list of rows, each a list of numbers', 400)
    try:
        rows = np.array(instances)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise HttpError('"instances" rows must all have the same number of values', 400) from None
    if rows.ndim != 2:
        raise HttpError('"instances" must be a list of rows, each a list of numbers', 400)
    if rows.shape[1] == 0:
        raise HttpError('"instances" rows have no values', 400)
    if rows.dtype != np.float64 or (maybe_bool and _has_bool(instances)):
        raise HttpError('"instances" must contain only numbers', 400)
    return rows


def _has_bool(instances: list[list[Any]]) -> bool:
    """True when a JSON true/false sits among the numbers (numpy would read it as 0/1)."""
    return any(type(value) is bool for row in instances for value in row)


def require_usable(rows: np.ndarray, n_features: int | None = None) -> None:
    """HttpError unless `rows` is a non-empty (n, d) matrix of finite numbers with the model's
    feature count: the last check before a model sees rows that a policy let through."""
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise HttpError(f"expected a non-empty 2-D array of rows, got shape {rows.shape}", 400)
    if n_features is not None and rows.shape[1] != n_features:
        raise HttpError(f"rows have {rows.shape[1]} features, the model expects {n_features}", 400)
    if np.isfinite(rows).all():
        return
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise HttpError(
            f"{int(bad.sum())} row(s) contain NaN or infinite values (first: row {first})", 422
        )


def request_body(rows: np.ndarray) -> bytes:
    """The protocol's request body for `rows` (what the proxy sends upstream)."""
    return _dumps({"instances": rows.tolist()})


def render_answer(response: GuardResponse, method: str) -> bytes:
    """The 200 body: labels, plus probabilities and classes for predict_proba."""
    answer: dict[str, Any] = {"labels": _plain(response.labels)}
    if method == "predict_proba" and response.proba is not None:
        answer["probabilities"] = np.asarray(response.proba, dtype=np.float64).tolist()
        if response.classes is not None:
            answer["classes"] = _plain(response.classes)
    return _dumps(answer)


def parse_answer(raw: bytes, n_rows: int, method: str, source: str = "upstream") -> GuardResponse:
    """An upstream's (or wrapped app's) 200 answer as a GuardResponse, validated: JSON
    object, `probabilities` (n_rows x k, finite, in [0, 1]) for predict_proba or `labels`
    (n_rows scalars) for predict. HttpError 502 naming what was wrong otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise HttpError(f"{source} answer is not JSON", 502) from None
    if not isinstance(data, dict):
        raise HttpError(f"{source} answer is not a JSON object", 502)
    if method == "predict_proba":
        return _proba_answer(data, n_rows, source)
    if "labels" not in data:
        raise HttpError(f"{source} answer has no labels", 502)
    return GuardResponse(labels=_labels(data["labels"], n_rows, source))


def _proba_answer(data: dict[str, Any], n_rows: int, source: str) -> GuardResponse:
    """Probabilities (required), classes and labels (optional) of a predict_proba answer."""
    if "probabilities" not in data:
        raise HttpError(f"{source} answer has no probabilities", 502)
    proba = _matrix(data["probabilities"], n_rows, source)
    classes = None
    if data.get("classes") is not None:
        classes = _labels(data["classes"], proba.shape[1], source, what="classes")
    if data.get("labels") is not None:
        labels = _labels(data["labels"], n_rows, source)
    else:
        top = proba.argmax(axis=1)
        labels = classes[top] if classes is not None else top
    return GuardResponse(labels=labels, proba=proba, classes=classes)


def _matrix(value: Any, n_rows: int, source: str) -> np.ndarray:
    """An (n_rows, k) matrix of finite probabilities in [0, 1]."""
    bad = f"{source} probabilities are not a matrix of numbers"
    if not isinstance(value, list):
        raise HttpError(bad, 502)
    try:
        matrix = np.array(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise HttpError(bad, 502) from None
    if matrix.ndim != 2 or matrix.dtype.kind not in "iuf" or matrix.shape[1] == 0:
        raise HttpError(bad, 502)
    if matrix.shape[0] != n_rows:
        raise HttpError(f"{source} answered {matrix.shape[0]} rows for {n_rows} instances", 502)
    if matrix.dtype != np.float64:
        matrix = matrix.astype(np.float64)
    if not (matrix.min() >= -1e-6 and matrix.max() <= 1 + 1e-6):  # NaN fails both
        if not np.isfinite(matrix).all():
            raise HttpError(f"{source} probabilities contain NaN or infinite values", 502)
        raise HttpError(f"{source} probabilities lie outside [0, 1]", 502)
    return matrix


def _labels(value: Any, count: int, source: str, what: str = "labels") -> np.ndarray:
    """`count` scalar labels (numbers or strings) as a 1-D array."""
    if not isinstance(value, list) or not all(
        isinstance(item, str | int | float) for item in value
    ):
        raise HttpError(f"{source} {what} are not a list of numbers or strings", 502)
    if len(value) != count:
        raise HttpError(f"{source} answered {len(value)} {what} where {count} were due", 502)
    labels = np.asarray(value)
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise HttpError(f"{source} {what} contain NaN or infinite values", 502)
    return labels


def retry_after(events: Iterable[GuardEvent], default: int = 1) -> int:
    """Whole seconds to wait, from the largest `retry_after` any event names (ratelimit,
    quota), at least one."""
    waits = [
        float(e.data["retry_after"])
        for e in events
        if isinstance(e.data.get("retry_after"), int | float)
        and math.isfinite(float(e.data["retry_after"]))
    ]
    return max(1, math.ceil(max(waits))) if waits else default


def _plain(values: np.ndarray) -> list[Any]:
    """A label array as JSON-ready Python values (numpy scalars become int/float/str)."""
    return np.asarray(values).tolist()


def _dumps(value: Any) -> bytes:
    """Compact, strict JSON (NaN refused: callers check finiteness first)."""
    return _COMPACT.encode(value).encode()


def _reason(exc: BaseException) -> str:
    """A short reason for a JSON decoding failure."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at position {exc.pos}"
    return type(exc).__name__
