"""Canonical forms of a text: what it says once the spelling tricks attackers use to slip
past a classifier are undone. Base64 and hex blobs are decoded in place, ROT13 lines are
rotated back when that makes them read as English, look-alike letters (Cyrillic, Greek,
fullwidth, zero-width padding) are folded to plain Latin, and leetspeak digits inside words
are turned back into letters. A detector scores every form and keeps the worst, so an
encoded attack counts as much as a plain one. All steps are linear in the text's length
(str.translate, precompiled regexes), cheap enough for the guard's hot path."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from dataclasses import dataclass

RAW = "raw"
MIN_BLOB = 16  # characters: shorter base64/hex runs are ordinary words or ids

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])")
_WORDS = re.compile(r"[A-Za-z']+")
# Common English function words: a line that holds few of them but many once rotated by
# 13 letters was written in ROT13.
_FUNCTION_WORDS = (
    "the and to of a an in is it you your that this for with on be are as at by do not "
    "or if me my i we what how from all only say reply then now will can so"
)
_ENGLISH = frozenset(_FUNCTION_WORDS.split())
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Look-alike code points NFKC leaves alone (Cyrillic and Greek letters), as Latin letters.
_CONFUSABLES = str.maketrans(
    "аеіјорсхуѕԁһӏьАВЕНІЈКМОРСТХУЅαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧΖ",
    "aeijopcxysdhlbABEHIJKMOPCTXYSabeiknoptuxABEHIKMNOPTYXZ",
)
_LEET = str.maketrans("4@36105$7+9", "aaegiossttg")
_LEET_WORD = re.compile(r"[A-Za-z0-9@$+]*[0-9@$+][A-Za-z0-9@$+]*")
_NOT_LEET = re.compile(r"[28]|^[^a-z]*$")  # digits no letter resembles; no lower-case letter


@dataclass(frozen=True)
class CanonicalForm:
    """One reading of a text: `name` says which tricks were undone to get it."""

    name: str
    text: str


def _readable(data: bytes) -> str | None:
    """Decoded bytes as text when they look like words (UTF-8, printable, some spaces)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4 or " " not in text.strip():
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    letters = sum(ch.isalpha() or ch == " " for ch in text)
    if printable < len(text) or letters < 0.6 * len(text):
        return None
    return text


def _base64_text(blob: str) -> str | None:
    """The text a base64 (standard or URL-safe) blob holds, or None."""
    padded = blob.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    altchars = b"-_" if ("-" in blob or "_" in blob) else None
    try:
        data = base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(data)


def decode_blobs(text: str) -> str:
    """`text` with every base64 or hex run that decodes to readable text replaced by that
    text (runs that decode to bytes, such as hashes or ids, stay as they are)."""

    def hex_sub(match: re.Match[str]) -> str:
        decoded = _readable(bytes.fromhex(match.group(0)))
        return match.group(0) if decoded is None else decoded

    def b64_sub(match: re.Match[str]) -> str:
        decoded = _base64_text(match.group(0))
        return match.group(0) if decoded is None else decoded

    if len(text) < MIN_BLOB:
        return text
    return _BASE64.sub(b64_sub, _HEX.sub(hex_sub, text))


def _english_words(words: list[str]) -> int:
    """How many of `words` are common English function words."""
    return sum(word.lower() in _ENGLISH for word in words)


def unrot13(text: str) -> str:
    """`text` with each line that reads as English only after ROT13 rotated back."""
    lines = text.split("\n")
    changed = False
    for index, line in enumerate(lines):
        words = _WORDS.findall(line)
        if len(words) < 3 or _english_words(words) * 5 >= len(words):
            continue  # short, or already English
        rotated = codecs.encode(line, "rot13")
        if _english_words(_WORDS.findall(rotated)) * 4 >= len(words):
            lines[index] = rotated
            changed = True
    return "\n".join(lines) if changed else text


def fold_confusables(text: str) -> str:
    """NFKC (fullwidth and styled letters become plain ones), zero-width characters
    dropped, Cyrillic and Greek look-alikes mapped to the Latin letters they imitate."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).translate(_CONFUSABLES)


def unfold_leetspeak(text: str) -> str:
    """Digits and symbols standing for letters inside words (pr07ec7, h4ck3r, @dmin) read
        as those letters (1 as i, its more frequent reading). Tokens without a lower-case letter
    (order numbers, prices, upper-case ids) or holding a 2 or an 8 (hashes, versions,
    years) stay as they are."""

    def unfold(match: re.Match[str]) -> str:
        word = match.group(0)
        return word if _NOT_LEET.search(word) else word.translate(_LEET)

    return _LEET_WORD.sub(unfold, text)


def canonical_forms(text: str) -> list[CanonicalForm]:
    """The raw text first, then each canonical form that differs from the one before it:
    "decoded" (base64/hex blobs, ROT13 lines), "homoglyph" (look-alike letters folded),
    "leetspeak" (leet digits unfolded). Each step builds on the previous one."""
    forms = [CanonicalForm(RAW, text)]
    current = text
    for name, step in (
        ("decoded", lambda t: unrot13(decode_blobs(t))),
        ("homoglyph", fold_confusables),
        ("leetspeak", unfold_leetspeak),
    ):
        changed = step(current)
        if changed != current:
            forms.append(CanonicalForm(name, changed))
            current = changed
    return forms
