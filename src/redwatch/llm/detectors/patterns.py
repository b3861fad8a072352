"""Regex finders for personal data and secrets in free text, with checksums (Luhn for cards,
mod 97 for IBANs) and placeholder filters (documentation domains and IP ranges, "sk-..."
style keys, AWS's documented example key) so that sample text in an answer is not reported
as a leak. Used by the pii/secrets detectors and the guard's redaction stage, which runs on
the hot path: every regex is compiled once and each span costs one cheap check."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redwatch.exceptions import UsageError

PII_KINDS = ("email", "phone", "credit_card", "iban", "us_ssn", "ipv4")
SECRET_KINDS = (
    "openai_key",
    "aws_access_key",
    "github_token",
    "slack_token",
    "private_key",
    "jwt",
    "generic_api_key",
    "password_assignment",
)
ALL_KINDS = PII_KINDS + SECRET_KINDS


@dataclass(frozen=True)
class Span:
    """One match: its kind, character offsets in the text and the matched text."""

    kind: str
    start: int
    end: int
    text: str


_VALUE = r"[\"'`]?\s*(?:[:=]|=>|\bis\b)\s*[\"'`]?"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "url_password": re.compile(
        r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<value>[^\s@/]{4,})@[\w.-]+", re.I
    ),
    "private_key": re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\\n]*[A-Za-z0-9+/=\s\\]{40,}?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)"
    ),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "openai_key": re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_-]{19,}"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    "github_token": re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
    ),
    "slack_token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "generic_api_key": re.compile(
        r"(?i)(?:\b(?:api[_-]?key|apikey|secret[_-]?key|access[_-]?token|auth[_-]?token"
        r"|client[_-]?secret|private[_-]?token|bearer[_-]?token|secret|token)\b"
        + _VALUE
        + r"|\bBearer\s+)"
        r"(?P<value>[A-Za-z0-9_\-./+~]{16,})"
    ),
    "password_assignment": re.compile(
        r"(?i)\b(?:password|passwd|pwd|passphrase|passcode)\b"
        r"(?:\s+(?:for|of|to|on)\s+(?:the\s+|our\s+|this\s+)?[\w-]+(?:\s+[\w-]+)?)?"
        + _VALUE
        + r"(?P<value>[^\s\"'`,;]{6,})"
    ),
    "credit_card": re.compile(r"(?<![\w.-])(?:\d[ -]?){12,18}\d(?!\w)"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
    "us_ssn": re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    "email": re.compile(
        r"\b[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b"
    ),
    "phone": re.compile(
        r"(?<![\w+-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)|\d{1,4})(?:[ .-]?\d{2,4}){2,4}"
        r"|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b)(?![\w-])"
    ),
    "ipv4": re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)"),
}
# Order of precedence: a span found by an earlier kind hides overlapping later ones (a card
# number is not also a phone number; a key inside a password assignment is reported once).
_ORDER = (
    "private_key",
    "jwt",
    "openai_key",
    "aws_access_key",
    "github_token",
    "slack_token",
    "generic_api_key",
    "password_assignment",
    "url_password",
    "credit_card",
    "iban",
    "us_ssn",
    "email",
    "phone",
    "ipv4",
)
_KIND_OF = {"url_password": "password_assignment"}  # extra patterns that report another kind
_PLACEHOLDER = re.compile(
    r"(?i)example|sample|dummy|placeholder|your|redacted|xxxx|\*\*\*|\.\.\.|<|>|\{|\}|\$|%|"
    r"\(|\)|\[|\]|changeme|insert|replace|token_here|key_here|environ|getenv|secrets\.|env\."
)
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net", "localhost")
_RESERVED_TLDS = (".example", ".test", ".invalid", ".localhost")
_DOC_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "0.0.0.0/8", "127.0.0.0/8")
)


def _digits(text: str) -> str:
    """Only the digits of a string."""
    return "".join(c for c in text if c.isdigit())


def _luhn(number: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _plausible_secret(value: str) -> bool:
    """A real key mixes letters and digits and is not a documented placeholder."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and len(set(value)) >= 8 and not _PLACEHOLDER.search(value)


def _check_card(span: str) -> bool:
    """13-19 digits, not one repeated digit, and the Luhn checksum holds."""
    digits = _digits(span)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits)


def _check_iban(span: str) -> bool:
    """15-34 characters and the ISO 13616 mod-97 check gives 1."""
    code = span.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return False
    moved = code[4:] + code[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _check_ssn(span: str) -> bool:
    """Not a published sample and no area, group or serial the SSA never issues."""
    area, group, serial = span.split("-")
    placeholder = span in ("123-45-6789", "078-05-1120")
    bad_area = area in ("000", "666") or area.startswith("9")
    return not (placeholder or bad_area or group == "00" or serial == "0000")


def _check_email(span: str) -> bool:
    """Not on a domain reserved for documentation (RFC 2606: example.com, .test …)."""
    domain = span.rsplit("@", 1)[1].lower()
    if domain in _RESERVED_DOMAINS or domain.endswith(_RESERVED_TLDS):
        return False
    return not any(domain.endswith("." + d) for d in _RESERVED_DOMAINS)


def _check_phone(span: str) -> bool:
    """10-15 digits, not the fictional 555-01xx block or a NANP area code that cannot exist."""
    digits = _digits(span)
    if not 10 <= len(digits) <= 15 or len(set(digits)) < 3:
        return False
    national = digits[-10:]
    if national[3:6] == "555" and national[6:8] == "01":  # 555-01xx: reserved for fiction
        return False
    nanp = len(digits) == 10 or (len(digits) == 11 and digits[0] == "1")
    return not (nanp and (national[:3] == "555" or national[0] in "01"))  # no such area code


def _check_ipv4(span: str) -> bool:
    """A valid address outside the documentation, loopback and multicast ranges."""
    try:
        address = ipaddress.ip_address(span)
    except ValueError:
        return False
    return not any(address in net for net in _DOC_NETWORKS) and not address.is_multicast


def _check_private_key(span: str) -> bool:
    """A PEM block with a real body, not "..." between the markers."""
    body = re.sub(r"-----[A-Z ]+-----|\\n|\s", "", span)
    return len(body) >= 40 and _plausible_secret(body)


def _check_password(value: str) -> bool:
    """A concrete password has a digit or symbol and is not a template or a mask."""
    return (
        any(not c.isalpha() for c in value)
        and len(set(value)) > 2
        and not _PLACEHOLDER.search(value)
    )


_CHECKS: dict[str, Callable[[str], bool]] = {
    "credit_card": _check_card,
    "iban": _check_iban,
    "us_ssn": _check_ssn,
    "email": _check_email,
    "phone": _check_phone,
    "ipv4": _check_ipv4,
    "private_key": _check_private_key,
    "openai_key": lambda s: _plausible_secret(s[3:]),
    "aws_access_key": lambda s: "EXAMPLE" not in s,
    "github_token": _plausible_secret,
    "slack_token": _plausible_secret,
    "jwt": lambda s: True,
    "generic_api_key": _plausible_secret,
    "password_assignment": _check_password,
    "url_password": _check_password,
}


def _patterns(kinds: Iterable[str] | None) -> tuple[str, ...]:
    """The patterns for the requested kinds in precedence order; UsageError on an unknown
    kind."""
    if kinds is None:
        return _ORDER
    wanted = set(kinds)
    unknown = sorted(wanted - set(ALL_KINDS))
    if unknown:
        raise UsageError(f"unknown pattern kind {unknown[0]!r}; known: {', '.join(ALL_KINDS)}")
    return tuple(k for k in _ORDER if _KIND_OF.get(k, k) in wanted)


def _overlaps(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    """True when [start, end) overlaps a span already taken."""
    return any(start < e and s < end for s, e in taken)


# Cheap substring tests that rule a pattern out before its regex scans the text: most
# replies contain no "sk-" or "@", and a C-level `in` costs far less than a regex pass.
_NEEDS: dict[str, tuple[str, ...]] = {
    "url_password": ("://",),
    "private_key": ("PRIVATE KEY",),
    "jwt": ("eyJ",),
    "openai_key": ("sk-",),
    "aws_access_key": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "github_token": ("gh", "github_pat_"),
    "slack_token": ("xox",),
    "email": ("@",),
}
_NEEDS_LOWER: dict[str, tuple[str, ...]] = {
    "generic_api_key": ("key", "token", "secret", "bearer"),
    "password_assignment": ("pass", "pwd"),
}
_NUMERIC = ("credit_card", "iban", "us_ssn", "phone", "ipv4")
# Numbers in a text: digits joined by short separators. Numeric kinds are searched only in
# these regions (plus a margin for "+", "(" and an IBAN's letters), not over the whole text.
_DIGIT_RUN = re.compile(r"\d(?:[\d \t().+/:-]{0,3}\d)*")
_MARGIN = 5


def _numeric_regions(text: str) -> list[tuple[int, int]]:
    """(pos, endpos) windows around the text's numbers; nearby numbers share a window."""
    regions: list[list[int]] = []
    for run in _DIGIT_RUN.finditer(text):
        start, end = max(0, run.start() - _MARGIN), min(len(text), run.end() + _MARGIN)
        if regions and start <= regions[-1][1]:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    return [(a, b) for a, b in regions]


def _candidates(key: str, text: str, lower: str) -> bool:
    """False when the text cannot contain this pattern (a required substring is absent)."""
    if key in _NEEDS:
        return any(n in text for n in _NEEDS[key])
    if key in _NEEDS_LOWER:
        return any(n in lower for n in _NEEDS_LOWER[key])
    return True


def find_spans(text: str, kinds: Iterable[str] | None = None) -> list[Span]:
    """Every PII/secret span of the given kinds (all when None), in text order. For key=value
    kinds the span is the value only, so redaction keeps the name of the field."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    lower = text.lower()
    whole = [(0, len(text))]
    regions: list[tuple[int, int]] | None = None
    for key in _patterns(kinds):
        if not _candidates(key, text, lower):
            continue
        if key in _NUMERIC:
            regions = _numeric_regions(text) if regions is None else regions
        for pos, endpos in regions if key in _NUMERIC and regions is not None else whole:
            for match in _PATTERNS[key].finditer(text, pos, endpos):
                group = "value" if "value" in match.re.groupindex else 0
                start, end = match.span(group)
                value = match.group(group)
                if _CHECKS[key](value) and not _overlaps(taken, start, end):
                    spans.append(Span(_KIND_OF.get(key, key), start, end, value))
                    taken.append((start, end))
    return sorted(spans, key=lambda s: s.start)


def redact(text: str, kinds: Iterable[str] | None = None) -> tuple[str, list[Span]]:
    """The text with every span replaced by "[REDACTED:<KIND>]", and the spans replaced."""
    spans = find_spans(text, kinds)
    return replace_spans(text, spans), spans


def replace_spans(text: str, spans: Iterable[Span]) -> str:
    """`text` with each span (non-overlapping, in text order) replaced by its placeholder
    "[REDACTED:<KIND>]"."""
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(f"[REDACTED:{span.kind.upper()}]")
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def mask(value: str) -> str:
    """A matched value safe to show in evidence: its first 4 characters and an ellipsis."""
    return value[:4] + "…"
