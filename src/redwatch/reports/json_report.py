"""JSON report: the versioned campaign document (`CampaignResult.to_dict()`), described by
the JSON Schema shipped in `reports/schema/report-v1.json`."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, ClassVar

from redwatch.exceptions import ReportError
from redwatch.reports.base import Reporter
from redwatch.reports.document import document
from redwatch.results import REPORT_SCHEMA_VERSION, CampaignResult

SCHEMA_FILE = "report-v1.json"


class JsonReporter(Reporter):
    """Machine-readable report for pipelines and the store; stable across minor versions."""

    name: ClassVar[str] = "json"
    extension: ClassVar[str] = ".json"
    media_type: ClassVar[str] = "application/json"

    def __init__(self, indent: int | None = 2) -> None:
        self.indent = indent

    def render(self, result: CampaignResult) -> str:
        """The document as JSON text, UTF-8 characters kept, ending with a newline."""
        return dumps(document(result), self.indent)


def dumps(doc: dict[str, Any], indent: int | None = 2) -> str:
    """Serialize a plain document; non-finite numbers are refused (JSON has none)."""
    try:
        return json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ReportError(f"report is not valid JSON: {exc}") from None


@cache
def _schema_text() -> str:
    return files("redwatch.reports").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of report schema version 1.x, as a fresh dict."""
    loaded = json.loads(_schema_text())
    assert isinstance(loaded, dict)
    return loaded


def validate(doc: dict[str, Any]) -> None:
    """Check a report document against the schema; ReportError naming the first problem.
    Needs the optional `jsonschema` package."""
    try:
        import jsonschema
    except ImportError:
        raise ReportError("validating reports needs the 'jsonschema' package") from None
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        raise ReportError(
            f"report does not match schema {REPORT_SCHEMA_VERSION} at {where}: {error.message}"
        )
