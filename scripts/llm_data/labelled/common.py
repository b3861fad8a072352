"""Helpers for writing the labelled sets (seeded)."""
import json, random
from pathlib import Path

OUT = Path(__file__).resolve().parents[3] / "tests" / "data" / "llm"

def luhn_complete(prefix, length, rng):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(rng.randrange(10))
    for check in range(10):
        cand = digits + [check]
        total = 0
        for i, d in enumerate(reversed(cand)):
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return "".join(map(str, cand))

def luhn_break(number):
    last = int(number[-1])
    return number[:-1] + str((last + 1) % 10)

def group(number, sizes, sep=" "):
    out, i = [], 0
    for s in sizes:
        out.append(number[i:i+s]); i += s
    return sep.join(out)

def iban(country, bban):
    moved = bban + country + "00"
    num = int("".join(str(int(c, 36)) for c in moved))
    check = 98 - num % 97
    code = f"{country}{check:02d}{bban}"
    return " ".join(code[i:i+4] for i in range(0, len(code), 4))

def write(name, items):
    pos = sum(1 for i in items if i["label"])
    with open(OUT / name, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    print(name, len(items), "positives", pos)
