"""Adapter for a model behind an HTTP JSON prediction endpoint.

Rows go out in a JSON POST built from a template; predictions come back at a JSONPath. Every
row is a metered query and the hard budget is checked before anything is sent. Retries with
exponential backoff cover connection errors, timeouts and 5xx answers; a thread pool keeps at
most `concurrency` requests in flight. Anything unusable in an answer is an EndpointError with
one line that names the problem. A target pickles without its connection pool and lock (so
that the Ray executor can send it to workers); the copy opens its own pool on first use.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

from redwatch.exceptions import DataError, EndpointError, UsageError
from redwatch.targets.base import Target
from redwatch.targets.capabilities import Capabilities
from redwatch.targets.client_state import ClientState
from redwatch.targets.jsonpath import JsonPath, PathMissingError

DEFAULT_TEMPLATE = '{"instances": "{{rows}}"}'
_ENV_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class HttpTarget(ClientState, Target):
    """A classifier served over HTTP; scores or labels only, depending on `output`."""

    def __init__(
        self,
        url: str,
        *,
        template: str | None = None,
        response_path: str = "$.probabilities",
        mode: str = "batch",
        headers: Mapping[str, str] | None = None,
        auth_env: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        concurrency: int = 4,
        query_budget: int | None = None,
        batch_size: int = 64,
        output: str = "scores",
        n_classes: int | None = None,
        name: str | None = None,
        classes: Sequence[Any] | None = None,
        backoff: float = 0.1,
    ) -> None:
        _check_options(url, mode, output, timeout, retries, concurrency, batch_size)
        _check_template(template or DEFAULT_TEMPLATE)
        self.url = url
        self.template = template or DEFAULT_TEMPLATE
        self.path = JsonPath.parse(response_path)
        self.mode = mode
        self.headers = dict(headers or {})
        self.auth_env = auth_env
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.query_budget = query_budget
        self.batch_size = batch_size
        self.output = output
        self.backoff = backoff
        self.name = name or urlparse(url).netloc or url
        self.classes = None if classes is None else np.asarray(classes)
        k = n_classes if n_classes is not None else (None if classes is None else len(classes))
        self.capabilities = Capabilities(labels=True, scores=output == "scores", n_classes=k)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool (a later query opens a new one)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> HttpTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self) -> httpx.Client:
        """The shared httpx client, created on first use with the resolved headers."""
        with self._lock:
            if self._client is None:
                limits = httpx.Limits(max_connections=self.concurrency)
                self._client = httpx.Client(
                    headers=self._resolved_headers(), timeout=self.timeout, limits=limits
                )
            return self._client

    def _resolved_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        headers.update({k: _expand_env(v, k) for k, v in self.headers.items()})
        if self.auth_env is not None:
            token = os.environ.get(self.auth_env)
            if not token:
                raise UsageError(f"environment variable {self.auth_env} (auth token) is not set")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    # -- Target ---------------------------------------------------------------------------
    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._query(x), dtype=np.float64)

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._query(x), dtype=np.int64)

    def _query(self, x: np.ndarray) -> np.ndarray:
        single = self._row_template() or self.mode == "row"
        size = 1 if single else self.batch_size
        chunks = [x[i : i + size] for i in range(0, len(x), size)]
        if len(chunks) <= 1 or self.concurrency == 1:
            parts = [self._send_chunk(c) for c in chunks]
        else:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                parts = list(pool.map(self._send_chunk, chunks))
        if not parts:
            k = self.capabilities.n_classes or 0
            return np.zeros((0, k)) if self.output == "scores" else np.zeros(0)
        return np.concatenate(parts)

    # -- one request ----------------------------------------------------------------------
    def _row_template(self) -> bool:
        return "{{row}}" in self.template

    def _body(self, rows: np.ndarray) -> bytes:
        payload = rows[0].tolist() if self._row_template() else rows.tolist()
        key = "{{row}}" if self._row_template() else "{{rows}}"
        text = json.dumps(payload)
        body = self.template.replace(f'"{key}"', text).replace(key, text)
        return body.encode()

    def _send_chunk(self, rows: np.ndarray) -> np.ndarray:
        answer = self._post(self._body(rows))
        return self._parse(answer, len(rows))

    def _post(self, body: bytes) -> httpx.Response:
        attempts = self.retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                resp = self.client().post(self.url, content=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout}s"
                continue
            except httpx.TransportError as exc:
                last = f"could not be reached ({type(exc).__name__})"
                continue
            if resp.status_code >= 500:
                last = f"answered HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                raise EndpointError(
                    f"endpoint {self.url} answered HTTP {resp.status_code} {resp.reason_phrase}"
                )
            return resp
        raise EndpointError(f"endpoint {self.url} {last} ({attempts} attempts)")

    # -- parsing --------------------------------------------------------------------------
    def _parse(self, resp: httpx.Response, n: int) -> np.ndarray:
        try:
            document = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError):
            snippet = resp.text[:40].replace("\n", " ")
            raise EndpointError(
                f"endpoint {self.url} answered something that is not JSON: {snippet!r}"
            ) from None
        try:
            value = self.path.find(document)
        except PathMissingError as exc:
            raise EndpointError(
                f"endpoint {self.url} answer has no {self.path.text} ({exc})"
            ) from None
        if self.output == "scores":
            return self._scores(value, n)
        return self._labels(value, n)

    def _rows(self, value: object, n: int, *, scalar_rows: bool) -> list[Any]:
        """Normalise the answer to a list of n rows (row mode may omit the outer list)."""
        if n == 1 and (not isinstance(value, list) or _is_row(value, scalar_rows)):
            value = [value]
        if not isinstance(value, list):
            raise EndpointError(f"endpoint {self.url} answer at {self.path.text} is not a list")
        if len(value) != n:
            raise EndpointError(f"endpoint {self.url} answered {len(value)} rows for {n} sent")
        return value

    def _scores(self, value: object, n: int) -> np.ndarray:
        rows = self._rows(value, n, scalar_rows=False)
        try:
            arr = np.array(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise EndpointError(
                f"endpoint {self.url} answered scores that are not a rows x classes table of "
                "numbers"
            ) from None
        if arr.ndim != 2:
            raise EndpointError(
                f"endpoint {self.url} answered scores that are not a rows x classes table"
            )
        if not np.all(np.isfinite(arr)):
            raise EndpointError(f"endpoint {self.url} answered scores containing NaN or infinity")
        self._check_classes(arr.shape[1])
        return arr

    def _labels(self, value: object, n: int) -> np.ndarray:
        rows = self._rows(value, n, scalar_rows=True)
        if any(isinstance(v, float) and not math.isfinite(v) for v in rows):
            raise EndpointError(f"endpoint {self.url} answered labels containing NaN")
        if self.classes is not None:
            try:
                return self.encode_labels(np.asarray(rows, dtype=object))
            except DataError:
                raise EndpointError(
                    f"endpoint {self.url} answered a label that is not one of the classes"
                ) from None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in rows):
            raise EndpointError(
                f"endpoint {self.url} answered labels that are not class indices; pass classes"
            )
        labels = np.asarray(rows, dtype=np.int64)
        k = self.capabilities.n_classes
        if k is not None and (labels.min() < 0 or labels.max() >= k):
            raise EndpointError(f"endpoint {self.url} answered a label outside 0..{k - 1}")
        return labels

    def _check_classes(self, k: int) -> None:
        with self._lock:
            if self.capabilities.n_classes is None:
                self.capabilities = replace(self.capabilities, n_classes=k)
                return
        if k != self.capabilities.n_classes:
            raise EndpointError(
                f"endpoint {self.url} answered {k} scores per row, expected "
                f"{self.capabilities.n_classes}"
            )


def _is_row(value: object, scalar_rows: bool) -> bool:
    """True when `value` is one row rather than a list of rows."""
    if scalar_rows:
        return not isinstance(value, list)
    return isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )


def _expand_env(value: str, header: str) -> str:
    def sub(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var not in os.environ:
            raise UsageError(f"header {header} refers to ${var}, which is not set")
        return os.environ[var]

    return _ENV_REF.sub(sub, value)


def _check_options(
    url: str, mode: str, output: str, timeout: float, retries: int, concurrency: int, batch: int
) -> None:
    if urlparse(url).scheme not in ("http", "https"):
        raise UsageError(f"endpoint URL must start with http:// or https://, not {url!r}")
    if mode not in ("batch", "row"):
        raise UsageError(f"mode must be 'batch' or 'row', not {mode!r}")
    if output not in ("scores", "labels"):
        raise UsageError(f"output must be 'scores' or 'labels', not {output!r}")
    if timeout <= 0 or retries < 0 or concurrency < 1 or batch < 1:
        raise UsageError("timeout, concurrency and batch_size must be positive, retries >= 0")


def _check_template(template: str) -> None:
    keys = [k for k in ("{{rows}}", "{{row}}") if k in template]
    if len(keys) != 1:
        raise UsageError("request template must contain exactly one of {{rows}} or {{row}}")
    key = keys[0]
    probe = template.replace(f'"{key}"', "[]").replace(key, "[]")
    try:
        json.loads(probe)
    except ValueError:
        raise UsageError(f"request template is not valid JSON: {template[:60]!r}") from None
