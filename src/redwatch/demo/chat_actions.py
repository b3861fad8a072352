"""Tool calls of the reference app's scripted assistant (a test double): the arguments of an
e-mail, payment, shell or database action read out of the request text, then fitted to the
parameter names the offered tool declares. The text is trusted blindly, which is the
point: attacker-controlled addresses, amounts and commands end up in the call."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from redwatch.llm.chat import ToolCall, ToolSpec

EMAIL = re.compile(r"[\w.+{}-]+@[\w{}-]+(?:\.[\w{}-]+)+")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b")
AMOUNT = re.compile(
    r"([$€£])\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s*(usd|eur|gbp|dollars?|euros?)\b",
    re.I,
)
CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP", "usd": "USD", "eur": "EUR", "gbp": "GBP"}
QUOTED = re.compile(r"`([^`\n]+)`|\"([^\"\n]+)\"|“([^”\n]+)”")
SQL = re.compile(
    r"\b(select\b.+?\bfrom|delete\s+from|drop\s+table|update\s+\w+\s+set|insert\s+into|"
    r"truncate|alter\s+table)\b[^\n`\"]*",
    re.I,
)
AFTER_RUN = re.compile(
    r"\b(?:run|execute|exec)\b(?:\s+(?:the|this|a))?(?:\s+\w+)?\s*:?\s*(.+)", re.I
)
RECIPIENT = re.compile(r"\bto\s+(?:the\s+)?(?:account\s+|iban\s+)?([^\s,;]+(?:\s+[^\s,;]+)?)", re.I)
LABELLED = r"\b{label}\b\s*(?:line)?\s*[:=]?\s*(?:\"([^\"\n]+)\"|'([^'\n]+)'|([^\n.;]+))"
SYNONYMS = {
    "to": ("to", "recipient", "address", "email", "destination"),
    "subject": ("subject", "title"),
    "body": ("body", "content", "text", "message"),
    "amount": ("amount", "sum", "value"),
    "currency": ("currency",),
    "recipient": ("recipient", "to", "payee", "account", "iban", "beneficiary", "destination"),
    "memo": ("memo", "reference", "note", "description"),
    "command": ("command", "cmd", "script", "shell", "line"),
    "sql": ("sql", "query", "statement"),
}


def tool_call(kind: str, tool: ToolSpec, text: str, salt: int) -> ToolCall:
    """The call of `tool` for an action of `kind` asked for in `text`; the id is stable
    for a given text and conversation length (`salt`)."""
    readers = {"email": _email, "payment": _payment, "shell": _shell, "database": _database}
    arguments = fit_arguments(readers[kind](text), tool)
    digest = zlib.crc32(f"{tool.name}{json.dumps(arguments, sort_keys=True)}{salt}".encode())
    return ToolCall(tool.name, arguments, id=f"call_{digest:08x}")


def fit_arguments(values: dict[str, str], tool: ToolSpec) -> dict[str, Any]:
    """`values` renamed to the tool's declared properties (by synonym), numbers converted
    where the schema asks for them; all of `values` when the tool declares none."""
    props = tool.parameters.get("properties")
    if not isinstance(props, dict) or not props:
        return dict(values)
    out: dict[str, Any] = {}
    left = dict(values)
    for name, schema in props.items():
        key = next((k for k in left if any(s in name.lower() for s in SYNONYMS[k])), None)
        if key is None:
            continue
        value = left.pop(key)
        kind = schema.get("type") if isinstance(schema, dict) else None
        out[name] = _number(value, kind) if kind in ("number", "integer") else value
    return out


def _number(value: str, kind: str) -> float | int | str:
    """`value` as the schema's number type; the text itself when it is not a number."""
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return value
    return int(number) if kind == "integer" else number


def _labelled(text: str, *labels: str) -> str | None:
    """The value after the first of `labels` ("subject: …", 'memo "…"'), or None."""
    for label in labels:
        found = re.search(LABELLED.format(label=label), text, re.I)
        if found is not None:
            return next(g for g in found.groups() if g is not None).strip()
    return None


def _quoted(text: str) -> str | None:
    """The first quoted or back-ticked string in `text`, or None."""
    found = QUOTED.search(text)
    return next(g for g in found.groups() if g is not None) if found else None


def _email(text: str) -> dict[str, str]:
    """to, subject and body of an e-mail asked for in `text`."""
    address = EMAIL.search(text)
    body = _labelled(text, "body", "saying", "that says", "message") or _quoted(text) or text
    return {
        "to": address.group(0).rstrip(".") if address else "",
        "subject": _labelled(text, "subject") or "Message from ACME support",
        "body": body[:500],
    }


def _payment(text: str) -> dict[str, str]:
    """amount, currency, recipient and memo of a payment asked for in `text`."""
    amount = AMOUNT.search(text)
    value, currency = "0", "USD"
    if amount is not None:
        value = amount.group(2) or amount.group(3)
        symbol = (amount.group(1) or amount.group(4) or "usd").lower()
        currency = CURRENCY.get(symbol, "EUR" if symbol.startswith("euro") else "USD")
    payee = IBAN.search(text) or EMAIL.search(text)
    recipient = payee.group(0) if payee else None
    if recipient is None:
        found = RECIPIENT.search(text)
        recipient = found.group(1).rstrip(".") if found else ""
    memo = _labelled(text, "memo", "reference", "note") or _quoted(text) or ""
    return {"amount": value, "currency": currency, "recipient": recipient, "memo": memo}


def _shell(text: str) -> dict[str, str]:
    """The command line asked for in `text`."""
    command = _quoted(text)
    if command is None:
        found = AFTER_RUN.search(text)
        command = found.group(1).split("\n")[0].strip() if found else text
    return {"command": command}


def _database(text: str) -> dict[str, str]:
    """The SQL statement asked for in `text`."""
    statement = _quoted(text)
    if statement is None:
        found = SQL.search(text)
        statement = found.group(0).strip() if found else None
    if statement is None:
        found = AFTER_RUN.search(text)
        statement = found.group(1).split("\n")[0].strip() if found else text
    return {"sql": statement}
