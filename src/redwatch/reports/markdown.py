"""Markdown report, for engineers reading in a pull request, a wiki or a terminal: summary,
findings table, one section per finding, and the probe runs."""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar

from redwatch.reports.base import Reporter
from redwatch.reports.document import (
    SEVERITY_ORDER,
    MetricTable,
    brief,
    by_severity,
    document,
    format_value,
    local_href,
    references,
    split_metrics,
)
from redwatch.results import CampaignResult


class MarkdownReporter(Reporter):
    """GitHub-flavoured Markdown (pipe tables); renders in pull requests and most viewers."""

    name: ClassVar[str] = "md"
    extension: ClassVar[str] = ".md"
    media_type: ClassVar[str] = "text/markdown"

    def render(self, result: CampaignResult) -> str:
        """The whole report as Markdown text."""
        doc = document(result)
        parts = [
            _header(doc),
            _summary(doc),
            _findings_table(doc),
            *(_finding_section(f) for f in by_severity(doc["findings"])),
            _fixed(doc),
            _probes(doc),
        ]
        return "\n\n".join(p for p in parts if p) + "\n"


def cell(value: Any) -> str:
    """Table-safe text: pipes escaped, line breaks folded, empty shown as a dash."""
    text = format_value(value) if not isinstance(value, str) else value
    text = text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")
    return text or "-"


def table(columns: list[str], rows: list[list[Any]]) -> str:
    """A pipe table; every value passes through `cell`."""
    lines = [
        "| " + " | ".join(cell(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _header(doc: dict[str, Any]) -> str:
    c = doc["campaign"]
    rows = [
        ["campaign", f"`{c['id']}`"],
        ["target", f"{c['target']} ({c['target_kind']})"],
        ["started", c["started_at"]],
        ["finished", c["finished_at"]],
        ["status", c["status"]],
        ["redwatch", doc["redwatch_version"] or "unknown"],
    ]
    return f"# redwatch report: {c['target']}\n\n" + table(["field", "value"], rows)


def _summary(doc: dict[str, Any]) -> str:
    counts = doc["summary"]["counts"]
    rows = [[s, counts[s]] for s in SEVERITY_ORDER]
    rows.append(["**total**", sum(counts.values())])
    rows.append(["fixed since last campaign", doc["summary"]["fixed"]])
    return "## Summary\n\n" + table(["severity", "findings"], rows)


def _findings_table(doc: dict[str, Any]) -> str:
    if not doc["findings"]:
        return "## Findings\n\nNo findings."
    rows = [
        [f["severity"], f"`{f['probe']}`", f"[{_one_line(f['title'])}](#{_anchor(f)})", f["status"]]
        for f in by_severity(doc["findings"])
    ]
    return "## Findings\n\n" + table(["severity", "probe", "title", "status"], rows)


def _anchor(finding: dict[str, Any]) -> str:
    return f"finding-{finding['fingerprint']}"


def _finding_section(f: dict[str, Any]) -> str:
    head = (
        f'<a id="{_anchor(f)}"></a>\n### {f["severity"].upper()}: {_one_line(f["title"])}\n\n'
        f"probe `{f['probe']}` · category {f['category']} · status **{f['status']}** · "
        f"fingerprint `{f['fingerprint']}`"
    )
    parts = [head, f["description"], _metrics(f["metrics"]), _evidence(f), _mitigations(f)]
    parts.append(_references(f["references"]))
    return "\n\n".join(p for p in parts if p)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _metrics(metrics: dict[str, Any]) -> str:
    view = split_metrics(metrics)
    if not (view.scalars or view.tables or view.other):
        return ""
    out = ["#### Metrics"]
    if view.scalars or view.other:
        out.append(table(["metric", "value"], [list(p) for p in view.scalars + view.other]))
    out += [_metric_table(t) for t in view.tables]
    return "\n\n".join(out)


def _metric_table(t: MetricTable) -> str:
    return f"`{t.name}`\n\n" + table(t.columns, t.rows)


def _evidence(f: dict[str, Any]) -> str:
    if not f["evidence"]:
        return ""
    lines = ["#### Evidence", ""]
    for e in f["evidence"]:
        href = local_href(e["path"])
        where = (
            f" ([`{e['path']}`]({href}))" if href else (f" (`{e['path']}`)" if e["path"] else "")
        )
        lines.append(f"- **{e['kind']}**: {_one_line(e['description'])}{where}")
        if _is_transcript(e):
            lines += ["", *("  " + x if x else "" for x in _transcript(e["data"])), ""]
            continue
        lines += [f"  - {k}: {format_value(v)}" for k, v in e["data"].items()]
        if e["arrays"]:
            lines.append("  - arrays: " + ", ".join(f"`{a}`" for a in e["arrays"]))
    return "\n".join(lines)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!~])")  # "|": table cells escape it
_TRANSCRIPT_KEYS = ("messages", "tools", "verdicts")


def _is_transcript(e: dict[str, Any]) -> bool:
    """Evidence that holds a chat transcript (messages in the OpenAI shape)."""
    messages = e["data"].get("messages")
    return e["kind"] == "transcript" and isinstance(messages, list)


def _inline(text: Any) -> str:
    """One line of untrusted text made inert: HTML escaped, Markdown syntax backslashed."""
    value = text if isinstance(text, str) else format_value(text)
    return _MD_SPECIAL.sub(r"\\\1", html.escape(_one_line(value), quote=False))


def _fenced(text: str) -> list[str]:
    """Untrusted text as a code block whose fence is longer than any backtick run in it,
    so that nothing inside can close it or be rendered."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [f"{fence}text", *text.replace("\r", "").split("\n"), fence]


def _transcript(data: dict[str, Any]) -> list[str]:
    """A chat transcript: context, one block per message (role, content, tool calls) and
    the detectors' verdicts; every model-controlled string is fenced or escaped."""
    lines = [
        " · ".join(
            f"{_inline(k)}: {_inline(v)}" for k, v in data.items() if k not in _TRANSCRIPT_KEYS
        )
    ]
    tools = data.get("tools")
    if isinstance(tools, list) and tools:
        lines += ["", "tools offered: " + ", ".join(_inline(t) for t in tools)]
    for m in data["messages"]:
        if isinstance(m, dict):
            lines += ["", *_message(m)]
    verdicts = [v for v in data.get("verdicts") or [] if isinstance(v, dict)]
    if verdicts:
        keys = ("detector", "state", "score", "reason")
        rows = [[_inline(v.get(k)) for k in keys] for v in verdicts]
        lines += ["", table(["detector", "verdict", "score", "reason"], rows)]
    return [x for line in lines for x in line.split("\n")]


def _message(m: dict[str, Any]) -> list[str]:
    """One message: the role in bold, its content and each tool call fenced."""
    role = _inline(m.get("role", "unknown"))
    answer = m.get("tool_call_id")
    out = [f"**{role}**" + (f" (result of {_inline(answer)})" if answer else "")]
    if m.get("content"):
        out += ["", *_fenced(str(m["content"]))]
    for call in m.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            out += ["", f"tool call **{_inline(fn.get('name', '?'))}**"]
            out += ["", *_fenced(str(fn.get("arguments", "")))]
    return out


def _mitigations(f: dict[str, Any]) -> str:
    if not f["mitigations"]:
        return ""
    lines = ["#### Mitigations", ""]
    for m in f["mitigations"]:
        detail = f": {_one_line(m['detail'])}" if m["detail"] else ""
        lines.append(f"- **{m['title']}** ({m['kind']}){detail}")
        if m["params"]:
            lines.append(f"  - parameters: `{format_value(m['params'])}`")
    return "\n".join(lines)


def _references(ids: list[str]) -> str:
    if not ids:
        return ""
    lines = ["#### References", ""]
    for ref in references(ids):
        label = f"{ref.id} {ref.name}" if ref.name != ref.id else ref.id
        link = f"[{label}]({ref.url})" if ref.url else label
        lines.append(f"- {link} ({ref.framework})")
    return "\n".join(lines)


def _fixed(doc: dict[str, Any]) -> str:
    if not doc["fixed"]:
        return ""
    rows = [[f"`{x['fingerprint']}`", x.get("probe", ""), x.get("title", "")] for x in doc["fixed"]]
    return "## Fixed since the previous campaign\n\n" + table(
        ["fingerprint", "probe", "title"], rows
    )


def _probes(doc: dict[str, Any]) -> str:
    if not doc["probes"]:
        return "## Probe runs\n\nNo probe ran."
    rows = [
        [
            f"`{p['probe']}`",
            p["status"],
            f"{p['seconds']:.2f}",
            p["queries"],
            p["message"],
            brief(p.get("metrics") or {}),
        ]
        for p in doc["probes"]
    ]
    columns = ["probe", "status", "seconds", "queries", "message", "metrics"]
    return "## Probe runs\n\n" + table(columns, rows)
