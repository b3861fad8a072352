"""Exception tree. Every error redwatch raises on purpose derives from RedwatchError.

RedwatchError
├── UsageError              bad command-line arguments or configuration
├── DataError               a data file that is missing, malformed, or does not fit the model
├── TargetError             the model or endpoint cannot be loaded or queried
│   ├── UnsafeArtifactError the safety scan refused a model file
│   ├── SignatureError      a model signature is missing, malformed, or does not match
│   ├── EndpointError       an HTTP endpoint timed out, refused, or answered garbage
│   └── QueryBudgetExceeded a hard query budget ran out
├── ProbeError              a probe was misconfigured or cannot run against this target
├── StoreError              the store could not be read or written
└── ReportError             a report could not be produced

The CLI turns any RedwatchError into one line on stderr and exit code 2.
"""

from __future__ import annotations


class RedwatchError(Exception):
    """Root of every deliberate redwatch error; its message is one line for a human."""


class UsageError(RedwatchError):
    """Bad command-line arguments or configuration."""


class DataError(RedwatchError):
    """A data file that is missing, malformed, or does not fit the model."""


class TargetError(RedwatchError):
    """The model or endpoint cannot be loaded or queried."""


class UnsafeArtifactError(TargetError):
    """The safety scan refused to load a model file."""


class SignatureError(TargetError):
    """A model signature is missing, malformed, made with another key, or does not match."""


class EndpointError(TargetError):
    """An HTTP endpoint timed out, refused the connection, or answered garbage."""


class QueryBudgetExceeded(TargetError):
    """A hard query budget ran out; attacks stop and report what they reached."""


class ProbeError(RedwatchError):
    """A probe was misconfigured or cannot run against this target."""


class StoreError(RedwatchError):
    """The store could not be read or written."""


class ReportError(RedwatchError):
    """A report could not be produced."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message (its type name when empty), for the
    one-line errors redwatch prints; `limit` caps the length."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if limit is None else text[:limit]
