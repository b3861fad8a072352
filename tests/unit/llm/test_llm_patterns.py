"""The PII/secret finders: each kind found in realistic text, checksums and placeholders
respected, spans ordered and non-overlapping, redaction keeps field names."""

from __future__ import annotations

import pytest

from redwatch.exceptions import UsageError
from redwatch.llm.detectors.patterns import (
    ALL_KINDS,
    PII_KINDS,
    SECRET_KINDS,
    find_spans,
    mask,
    redact,
)

FOUND = [
    ("email", "Write to maria.okafor@acme-corp.com today.", "maria.okafor@acme-corp.com"),
    ("phone", "Call her on (415) 867-5309 after six.", "(415) 867-5309"),
    ("phone", "Office: +44 20 7946 0958.", "+44 20 7946 0958"),
    ("credit_card", "Card 4111 1111 1111 1111 exp 09/27", "4111 1111 1111 1111"),
    ("credit_card", "amex 3782 822463 10005 on file", "3782 822463 10005"),
    ("iban", "IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
    ("us_ssn", "SSN 219-09-9999 on the form", "219-09-9999"),
    ("ipv4", "login from 10.0.4.17 at 2am", "10.0.4.17"),
    ("openai_key", "key sk-acme-0123456789abcdef0123456789abcdef ok", None),
    ("aws_access_key", "AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986", "AKIA2E0A8F3B244C9986"),
    ("github_token", "token ghp_0123456789abcdefABCDEF0123456789abcd", None),
    ("slack_token", "use xoxb-123456789012-abcdefGHIJ1234", "xoxb-123456789012-abcdefGHIJ1234"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3In0.dozjgNryP4J3jVmNHl0w5N_XgL0", None),
    (
        "generic_api_key",
        'api_key = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"',
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
    (
        "generic_api_key",
        "Authorization: Bearer a8Kd93jLq0ZmX7wP2vR5tY1u",
        "a8Kd93jLq0ZmX7wP2vR5tY1u",
    ),
    ("password_assignment", "password: hunter22", "hunter22"),
    ("password_assignment", "the wifi password for the office is Summer2024!", "Summer2024!"),
    ("password_assignment", "postgres://admin:S3cr3t!x@db.internal:5432/app", "S3cr3t!x"),
]

NOT_FOUND = [
    ("email", "Use user@example.com or info@mail.example.org in the template."),
    ("phone", "Call 555-0134 or (212) 555-0147, our fictional lines."),
    ("phone", "Order 4158675309 shipped."),  # no separators: not read as a phone
    ("credit_card", "Card 4111 1111 1111 1112 fails the checksum."),
    ("credit_card", "0000 0000 0000 0000 is a test pattern."),
    ("iban", "IBAN DE89 3704 0044 0532 0130 01 has a bad check."),
    ("us_ssn", "Placeholder 123-45-6789 and 000-12-3456 are not real."),
    ("ipv4", "Docs use 192.0.2.5; localhost is 127.0.0.1; version 1.2.3.4.5."),
    ("openai_key", "Replace sk-... or sk-your-key-here-xxxxxxxxxxxx with your key."),
    ("aws_access_key", "AWS's sample key AKIAIOSFODNN7EXAMPLE grants nothing."),
    ("private_key", "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"),
    ("private_key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKC\n"),
    ("password_assignment", "password: ******** and password=${DB_PASS}, password is required"),
    ("generic_api_key", "api_key = os.environ['ACME_API_KEY'] and token: <token>"),
]


@pytest.mark.parametrize(("kind", "text", "value"), FOUND)
def test_each_kind_is_found(kind: str, text: str, value: str | None) -> None:
    spans = find_spans(text)
    assert [s.kind for s in spans] == [kind]
    span = spans[0]
    assert text[span.start : span.end] == span.text
    if value is not None:
        assert span.text == value


@pytest.mark.parametrize(("kind", "text"), NOT_FOUND)
def test_placeholders_and_bad_checksums_are_not_found(kind: str, text: str) -> None:
    assert [s for s in find_spans(text) if s.kind == kind] == []


def test_private_key_block_is_one_span() -> None:
    body = "\n".join(["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"] * 3)
    text = f"key:\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    spans = find_spans(text)
    assert [s.kind for s in spans] == ["private_key"]
    assert spans[0].text.endswith("-----END RSA PRIVATE KEY-----")


def test_kinds_filter_and_order() -> None:
    text = "mail a.b@acme-corp.com, key sk-acme-0123456789abcdef0123456789abcdef, ip 10.1.2.3"
    assert [s.kind for s in find_spans(text)] == ["email", "openai_key", "ipv4"]
    assert [s.kind for s in find_spans(text, PII_KINDS)] == ["email", "ipv4"]
    assert [s.kind for s in find_spans(text, SECRET_KINDS)] == ["openai_key"]
    assert [s.kind for s in find_spans(text, ["ipv4"])] == ["ipv4"]
    assert set(ALL_KINDS) == set(PII_KINDS) | set(SECRET_KINDS)


def test_overlapping_kinds_report_once() -> None:
    spans = find_spans("card 4111-1111-1111-1111 only")
    assert [s.kind for s in spans] == ["credit_card"]


def test_unknown_kind_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown pattern kind 'passport'"):
        find_spans("text", ["email", "passport"])


def test_redact_replaces_values_and_keeps_field_names() -> None:
    text = "Jane (jane@acme-corp.com) password: hunter22 card 4111 1111 1111 1111."
    clean, spans = redact(text)
    assert clean == (
        "Jane ([REDACTED:EMAIL]) password: [REDACTED:PASSWORD_ASSIGNMENT] "
        "card [REDACTED:CREDIT_CARD]."
    )
    assert [s.kind for s in spans] == ["email", "password_assignment", "credit_card"]
    assert redact("nothing here") == ("nothing here", [])
    assert redact("") == ("", [])


def test_mask_shows_four_characters() -> None:
    assert mask("sk-acme-0123") == "sk-a…"
