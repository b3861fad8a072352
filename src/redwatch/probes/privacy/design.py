"""Who is a member of what in a membership audit.

Two modes:
- `replica` (default): the campaign rows become a population; a model of the target's
  recipe is trained on a seeded half of them. The audit measures what a model trained this
  way leaks, without needing the target's real training rows.
- `target`: params `members` names a CSV of the target's real training rows; the real
  target is attacked, members are those rows, non-members the campaign rows not among them.

In both, a slice of known non-members is set aside as RMIA's population samples z and the
shadow models train on halves of every row (evaluated rows and z)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from redwatch.exceptions import DataError, ProbeError
from redwatch.probes.base import ProbeContext
from redwatch.targets.base import Target

DEFAULT_MAX_ROWS = 4000
MAX_Z = 500
MIN_ROWS = 20


@dataclass(frozen=True)
class AuditDesign:
    """Population rows (evaluated rows first, then the z samples), their class indices, and
    which evaluated rows the attacked model trained on."""

    mode: str
    x: np.ndarray
    y: np.ndarray
    member: np.ndarray
    source: str = ""

    @property
    def n_eval(self) -> int:
        """How many rows are scored and counted in the ROC."""
        return len(self.member)

    @property
    def eval_rows(self) -> np.ndarray:
        """Indices of the evaluated rows in the population."""
        return np.arange(self.n_eval)

    @property
    def z_rows(self) -> np.ndarray:
        """Indices of RMIA's population samples (known non-members, not evaluated)."""
        return np.arange(self.n_eval, len(self.x))

    @property
    def member_rows(self) -> np.ndarray:
        """Indices of the rows the attacked model trained on."""
        return np.flatnonzero(self.member)

    def describe(self) -> str:
        """One line for reports: which model was attacked and on what."""
        counts = f"{int(self.member.sum())} members, {int((~self.member).sum())} non-members"
        if self.mode == "target":
            return f"the target itself, members from {self.source} ({counts})"
        return f"a replica of the target's recipe trained on a known half ({counts})"

    def counts(self) -> dict[str, int]:
        """Row counts for the metrics."""
        return {
            "members": int(self.member.sum()),
            "non_members": int((~self.member).sum()),
            "z_samples": len(self.z_rows),
        }


def build_design(target: Target, ctx: ProbeContext) -> AuditDesign:
    """The design params ask for: `members` CSV -> target mode, else replica mode."""
    x = np.asarray(ctx.x, dtype=np.float64)
    y = np.asarray(ctx.y)
    if x.ndim != 2 or len(y) != len(x):
        raise ProbeError("membership inference needs evaluation rows with true labels")
    max_rows = int(ctx.params.get("max_rows", DEFAULT_MAX_ROWS))
    if max_rows < MIN_ROWS:
        raise ProbeError(f"max_rows must be at least {MIN_ROWS}, got {max_rows}")
    path = ctx.params.get("members")
    if path:
        xm, ym = read_members(Path(str(path)), target, ctx.params.get("members_label"))
        return target_design(xm, ym, x, y.astype(np.int64), ctx.rng, max_rows, str(path))
    return replica_design(x, y.astype(np.int64), ctx.rng, max_rows)


def _z_count(n: int) -> int:
    """How many known non-members to set aside as z samples."""
    return int(min(MAX_Z, max(4, n // 5)))


def replica_design(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, max_rows: int
) -> AuditDesign:
    """Seeded population of at most max_rows campaign rows; z set aside; the replica trains
    on half the population, drawn from the evaluated rows."""
    if len(x) < MIN_ROWS:
        raise ProbeError(f"membership inference needs at least {MIN_ROWS} rows, got {len(x)}")
    order = rng.permutation(len(x))[:max_rows]
    nz = _z_count(len(order))
    z, ev = order[:nz], order[nz:]
    member = np.zeros(len(ev), dtype=bool)
    member[rng.permutation(len(ev))[: len(order) // 2]] = True
    rows = np.concatenate([ev, z])
    return AuditDesign("replica", x[rows], y[rows], member)


def target_design(
    xm: np.ndarray,
    ym: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    max_rows: int,
    source: str,
) -> AuditDesign:
    """Members from the CSV, non-members the campaign rows not among them (exact match of
    the feature values); each side capped at half of max_rows, z taken from non-members."""
    known = {_key(r) for r in xm}
    outside = np.array([_key(r) not in known for r in x], dtype=bool)
    xn, yn = x[outside], y[outside]
    if len(xn) < 8:
        raise ProbeError(
            f"only {len(xn)} campaign rows are not among the members in {source}; "
            "membership inference needs rows the target never trained on"
        )
    half = max_rows // 2
    xm, ym = _sample(xm, ym, half, rng)
    xn, yn = _sample(xn, yn, half, rng)
    nz = min(_z_count(len(xn)), len(xn) // 3)
    member = np.concatenate([np.ones(len(xm), bool), np.zeros(len(xn) - nz, bool)])
    xs = np.vstack([xm, xn[nz:], xn[:nz]])
    ys = np.concatenate([ym, yn[nz:], yn[:nz]])
    return AuditDesign("target", xs, ys, member, source)


def _sample(
    x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """At most n rows, shuffled with the seed."""
    order = rng.permutation(len(x))[:n]
    return x[order], y[order]


def _key(row: np.ndarray) -> bytes:
    """A row's identity for matching members (values rounded to 9 significant digits)."""
    return np.asarray([float(f"{v:.9g}") for v in row], dtype=np.float64).tobytes()


def read_members(path: Path, target: Target, label: object) -> tuple[np.ndarray, np.ndarray]:
    """The target's training rows from a CSV with a header: the model's feature columns by
    name (or every other column) and the label column `members_label` (default: the one
    column that is not a feature, else `label`)."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"members file not found: {path}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read members file {path}: {str(exc).splitlines()[0]}") from None
    column = str(label) if label else _label_column(frame, target, path)
    if column not in frame.columns:
        raise DataError(f"members file {path} has no label column {column!r}")
    y_raw = frame.pop(column).to_numpy()
    spec = target.capabilities.input_spec
    if spec is not None and set(spec.feature_names) <= set(frame.columns):
        frame = frame[list(spec.feature_names)]
    try:
        xm = frame.to_numpy(dtype=np.float64)
    except ValueError:
        raise DataError(f"members file {path} has non-numeric feature values") from None
    expected = spec.n_features if spec is not None else target.n_features
    if expected is not None and xm.shape[1] != expected:
        raise DataError(
            f"members file {path} has {xm.shape[1]} features, the model expects {expected}"
        )
    if len(xm) < 4 or not np.isfinite(xm).all():
        raise DataError(f"members file {path} has fewer than 4 rows or NaN / infinite values")
    return xm, target.encode_labels(y_raw)


def _label_column(frame: pd.DataFrame, target: Target, path: Path) -> str:
    """The one column of the members file that is not a model feature, else `label`."""
    spec = target.capabilities.input_spec
    extra = [c for c in frame.columns if spec is None or c not in spec.feature_names]
    if spec is not None and len(extra) == 1:
        return str(extra[0])
    if "label" in frame.columns:
        return "label"
    raise DataError(f"name the label column of members file {path} with params members_label")
