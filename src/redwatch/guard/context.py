"""What a guard stage may know besides its options: the model's InputSpec, a local model to
query (detectors), clean reference rows (calibration), and where relative paths resolve.

The deployment builds one StageContext and the pipeline hands it to every stage. A proxy in
front of a remote upstream has no local model; stages that need one say so at build time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from redwatch.exceptions import DataError, UsageError, first_line
from redwatch.targets.spec import InputSpec

ProbaFn = Callable[[np.ndarray], np.ndarray]
MAX_REFERENCE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class StageContext:
    """Shared, read-only knowledge for building stages.

    `predict_proba` maps an (n, d) float array to (n, k) probabilities of the local model;
    `classes` names the k columns; `reference` holds clean rows (n, d) for calibration;
    `base_dir` is where relative paths in the policy resolve (the policy file's folder).
    """

    spec: InputSpec | None = None
    predict_proba: ProbaFn | None = None
    classes: np.ndarray | None = None
    reference: np.ndarray | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    def model(self, stage: str, why: str) -> ProbaFn:
        """The local model's probability function; UsageError naming the stage otherwise."""
        if self.predict_proba is None:
            raise UsageError(
                f"stage {stage}: {why} needs a local model "
                "(in-process guard, middleware with a model, or the proxy with --model)"
            )
        return self.predict_proba

    def resolve(self, path: str | Path) -> Path:
        """A policy path, relative ones taken from `base_dir`."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def reference_rows(self, stage: str, path: str | Path | None) -> np.ndarray:
        """Clean rows for calibration: the file named by the option when given, else the
        context's; UsageError when neither exists, DataError when the file is unusable."""
        if path is not None:
            rows = load_reference(self.resolve(path))
        elif self.reference is not None:
            rows = np.asarray(self.reference, dtype=np.float64)
        else:
            raise UsageError(
                f"stage {stage}: needs reference data: set its `reference` option to a "
                ".csv or .npy file of clean inputs"
            )
        if self.spec is not None and rows.shape[1] != self.spec.n_features:
            raise DataError(
                f"stage {stage}: reference rows have {rows.shape[1]} features, "
                f"the model expects {self.spec.n_features}"
            )
        return rows


def load_reference(path: Path) -> np.ndarray:
    """Read clean rows from .npy (never pickled) or .csv (numeric columns, header allowed):
    a finite (n, d) float array with n >= 2, or one DataError line naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: reference file not found")
    if path.stat().st_size > MAX_REFERENCE_BYTES:
        raise DataError(f"{path}: reference file is larger than {MAX_REFERENCE_BYTES} bytes")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            rows = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            rows = _read_csv(path)
        else:
            raise DataError(f"{path}: reference data must be .npy or .csv, not {suffix or 'none'}")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read reference data ({first_line(exc)})") from None
    return _checked(np.asarray(rows), path)


def _read_csv(path: Path) -> np.ndarray:
    """Numeric CSV; a first line that does not parse as numbers is taken as a header."""
    import pandas as pd

    frame = pd.read_csv(path)
    if not all(isinstance(col, str) and not _is_number(col) for col in frame.columns):
        frame = pd.read_csv(path, header=None)
    bad = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataError(f"{path}: reference column {bad[0]!r} is not numeric")
    return frame.to_numpy(dtype=np.float64)


def _checked(rows: np.ndarray, path: Path) -> np.ndarray:
    """A finite 2-D float array with at least two rows."""
    if rows.dtype.kind not in "fiub":
        raise DataError(f"{path}: reference data is not numeric (dtype {rows.dtype})")
    if rows.ndim == 1:
        rows = rows.reshape(-1, 1)
    if rows.ndim != 2 or rows.shape[0] < 2:
        raise DataError(f"{path}: reference data needs at least 2 rows of features")
    rows = rows.astype(np.float64)
    if not np.isfinite(rows).all():
        raise DataError(f"{path}: reference data contains NaN or infinite values")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
