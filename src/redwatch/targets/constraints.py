"""Linear relations between input features ("amount >= 0", "balance_after = balance_before -
amount"): a small parser (no eval) and the residual/holds checks that feasibility uses."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from redwatch.exceptions import UsageError

OPERATORS = ("<=", ">=", "==")
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_SYMBOLS = ("<=", ">=", "==", "=", "+", "-", "*", "/", "(", ")", "<", ">")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_.]")


@dataclass(frozen=True)
class LinearRelation:
    """sum_i coeffs[i] * x[i]  (op)  rhs ; op in "<=", ">=", "==". Indices are flattened columns.

    `solve_for` is set on equalities whose column `project` recomputes from the others.
    """

    coeffs: Mapping[int, float]
    op: str
    rhs: float
    text: str
    solve_for: int | None = None

    def lhs(self, x: np.ndarray) -> np.ndarray:
        """(n,) value of the linear expression for each row."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        idx = np.fromiter(self.coeffs.keys(), dtype=np.int64)
        coef = np.fromiter(self.coeffs.values(), dtype=np.float64)
        return np.asarray(x[:, idx] @ coef, dtype=np.float64)

    def residual(self, x: np.ndarray) -> np.ndarray:
        """(n,) lhs - rhs: <= 0 satisfies "<=", >= 0 satisfies ">=", 0 satisfies "=="."""
        return self.lhs(x) - self.rhs

    def magnitude(self, x: np.ndarray) -> np.ndarray:
        """(n,) scale of the terms, so that tolerances are relative to the numbers involved."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        idx = np.fromiter(self.coeffs.keys(), dtype=np.int64)
        coef = np.abs(np.fromiter(self.coeffs.values(), dtype=np.float64))
        terms = np.abs(x[:, idx]) * coef
        return np.maximum(np.maximum(terms.max(axis=1), abs(self.rhs)), 1.0)

    def holds(self, x: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        """(n,) bool: the relation is satisfied, up to tol times the size of its terms."""
        r = self.residual(x)
        slack = tol * self.magnitude(x)
        if self.op == "<=":
            return np.asarray(r <= slack)
        if self.op == ">=":
            return np.asarray(r >= -slack)
        return np.asarray(np.abs(r) <= slack)

    def solve(self, x: np.ndarray) -> np.ndarray:
        """(n,) value of column `solve_for` that makes this equality hold, others fixed."""
        if self.solve_for is None:
            raise ValueError(f"relation {self.text!r} has no column to solve for")
        c = self.coeffs[self.solve_for]
        rest = self.lhs(x) - c * np.atleast_2d(x)[:, self.solve_for]
        return np.asarray((self.rhs - rest) / c, dtype=np.float64)

    @property
    def columns(self) -> tuple[int, ...]:
        """Feature indices involved, in the order they were written."""
        return tuple(self.coeffs)

    def bound(self) -> tuple[int, str, float] | None:
        """(column, op, value) when this is a one-feature relation like `amount >= 0`."""
        if len(self.coeffs) != 1:
            return None
        ((i, c),) = self.coeffs.items()
        op = self.op if c > 0 or self.op == "==" else ("<=" if self.op == ">=" else ">=")
        return i, op, self.rhs / c


def parse_relation(text: str, feature_names: Sequence[str]) -> LinearRelation:
    """Parse `expr op expr` (op: <=, >=, ==, =) over the known feature names.

    expr is a sum/difference of `number`, `name` or `number*name` terms (also `name*number`
    and division by a number). Anything else raises UsageError naming the text.
    """
    tokens = _tokenize(text, feature_names)
    ops = [k for k, (kind, value) in enumerate(tokens) if kind == "op"]
    if len(ops) != 1:
        raise _bad(text, "expected exactly one of <=, >=, == or =")
    k = ops[0]
    op = tokens[k][1]
    left = _linear(tokens[:k], text)
    right = _linear(tokens[k + 1 :], text)
    names = {n: i for i, n in enumerate(feature_names)}
    coeffs: dict[int, float] = {}
    for name, c in left[0].items():
        coeffs[names[name]] = coeffs.get(names[name], 0.0) + c
    for name, c in right[0].items():
        coeffs[names[name]] = coeffs.get(names[name], 0.0) - c
    coeffs = {i: c for i, c in coeffs.items() if c != 0.0}
    if not coeffs:
        raise _bad(text, "no feature left once both sides are combined")
    return LinearRelation(coeffs, "==" if op == "=" else op, right[1] - left[1], text)


def lone_feature(text: str, feature_names: Sequence[str]) -> str | None:
    """Name of the single feature alone on one side of an equality (`y = a - b` gives y)."""
    tokens = _tokenize(text, feature_names)
    k = next(k for k, (kind, _) in enumerate(tokens) if kind == "op")
    for side in (tokens[:k], tokens[k + 1 :]):
        if len(side) == 1 and side[0][0] == "name":
            return side[0][1]
    return None


def _bad(text: str, why: str) -> UsageError:
    """One-line UsageError naming the constraint and the problem."""
    return UsageError(f"constraint {text!r}: {why}")


def _tokenize(text: str, feature_names: Sequence[str]) -> list[tuple[str, str]]:
    """Split into (kind, value) tokens; kinds: name, num, sym, op. Known feature names are
    matched first (longest first), so names with dots or digits work."""
    known = sorted(feature_names, key=len, reverse=True)
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        name = next((n for n in known if _name_at(text, pos, n)), None)
        if name is not None:
            tokens.append(("name", name))
            pos += len(name)
            continue
        number = _NUMBER.match(text, pos)
        if number is not None:
            tokens.append(("num", number.group(0)))
            pos = number.end()
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, pos)), None)
        if symbol is not None:
            if symbol in ("(", ")", "<", ">"):
                raise _bad(text, f"{symbol!r} is not supported (write a flat sum of terms)")
            tokens.append(("op" if symbol in ("<=", ">=", "==", "=") else "sym", symbol))
            pos += len(symbol)
            continue
        ident = _IDENT.match(text, pos)
        if ident is not None:
            raise _bad(text, f"unknown feature {ident.group(0)!r}")
        raise _bad(text, f"unexpected character {text[pos]!r}")
    if not tokens:
        raise _bad(text, "empty constraint")
    return tokens


def _name_at(text: str, pos: int, name: str) -> bool:
    """True if feature `name` starts at pos and is not the prefix of a longer identifier."""
    if not name or not text.startswith(name, pos):
        return False
    end = pos + len(name)
    starts_clean = pos == 0 or not _IDENT_CHAR.match(text[pos - 1])
    return starts_clean and (end == len(text) or not _IDENT_CHAR.match(text[end]))


def _linear(tokens: list[tuple[str, str]], text: str) -> tuple[dict[str, float], float]:
    """Coefficients per feature name and the constant of one side."""
    if not tokens:
        raise _bad(text, "one side of the comparison is empty")
    coeffs: dict[str, float] = {}
    constant = 0.0
    for sign, factors in _terms(tokens, text):
        value, name = _term(factors, text)
        if name is None:
            constant += sign * value
        else:
            coeffs[name] = coeffs.get(name, 0.0) + sign * value
    return coeffs, constant


def _terms(tokens: list[tuple[str, str]], text: str) -> list[tuple[float, list[tuple[str, str]]]]:
    """Split a side into signed terms at + and - (unary signs included)."""
    terms: list[tuple[float, list[tuple[str, str]]]] = []
    sign, current = 1.0, list[tuple[str, str]]()
    for token in tokens:
        if token[0] == "sym" and token[1] in ("+", "-"):
            if current:
                terms.append((sign, current))
                sign, current = 1.0, []
            sign = -sign if token[1] == "-" else sign
        else:
            current.append(token)
    if not current:
        raise _bad(text, "expression ends with an operator")
    terms.append((sign, current))
    return terms


def _term(factors: list[tuple[str, str]], text: str) -> tuple[float, str | None]:
    """Value and feature name of `a * b / c ...` where at most one factor is a feature and
    nothing divides by a feature."""
    value, name = 1.0, None
    expect_operand, divide = True, False
    for kind, token in factors:
        if expect_operand:
            if kind == "num":
                number = float(token)
                if divide and number == 0.0:
                    raise _bad(text, "division by zero")
                value = value / number if divide else value * number
            elif kind == "name":
                if divide:
                    raise _bad(text, f"division by feature {token!r} is not linear")
                if name is not None:
                    raise _bad(text, f"product of features {name!r} and {token!r} is not linear")
                name = token
            else:
                raise _bad(text, f"expected a number or feature before {token!r}")
            expect_operand = False
        elif kind == "sym" and token in "*/":
            divide, expect_operand = token == "/", True
        else:
            raise _bad(text, f"missing operator before {token!r} (write 2*amount)")
    if expect_operand:
        raise _bad(text, "expression ends with an operator")
    return value, name
