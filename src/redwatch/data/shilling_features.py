"""Per-account features for shilling detection, from the rating matrix alone.

Rating-deviation features (Chirita et al. 2005; Burke et al. 2006): RDMA, WDMA, WDA,
DegSim, LengthVar and the filler mean-variance; the mean log popularity of the items an
account rated (fake profiles draw filler items uniformly, real users favour popular ones);
and PCA-VarSelect's contribution (Mehta & Nejdl 2009): how much an account weighs in the
top principal components of the z-scored user-item matrix (fake profiles weigh little).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from redwatch.data.interactions import Interactions

DEGSIM_K = 25
PCA_COMPONENTS = 3
BLOCK = 512
EPS = 1e-9


@dataclass(frozen=True)
class RatingMatrix:
    """Ratings per row plus the per-item statistics every feature needs; duplicate
    (user, item) pairs count once (the last rating) in matrix features."""

    data: Interactions
    item_count: np.ndarray
    item_mean: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, data: Interactions) -> RatingMatrix:
        """Item counts and means over each pair's last rating."""
        pairs = data.users * len(data.item_ids) + data.items
        _, first_rev = np.unique(pairs[::-1], return_index=True)
        last = np.zeros(data.rows, dtype=bool)
        last[data.rows - 1 - first_rev] = True
        n_items = len(data.item_ids)
        count = np.bincount(data.items[last], minlength=n_items).astype(np.float64)
        total = np.bincount(data.items[last], data.ratings[last], minlength=n_items)
        return cls(data, count, total / np.maximum(count, 1.0), last)

    @property
    def n_users(self) -> int:
        """Number of accounts."""
        return len(self.data.user_ids)

    def per_user_mean(self, values: np.ndarray) -> np.ndarray:
        """Mean of a per-row value over each account's (deduplicated) rows."""
        users = self.data.users[self.last]
        counts = np.bincount(users, minlength=self.n_users)
        return np.bincount(users, values[self.last], self.n_users) / np.maximum(counts, 1)

    def z_matrix(self) -> sp.csr_matrix:
        """Each account's ratings z-scored over its own ratings, rows scaled to unit norm
        (so a row product is a Pearson correlation over the items both rated)."""
        d = self.data
        users, items, r = d.users[self.last], d.items[self.last], d.ratings[self.last]
        counts = np.maximum(np.bincount(users, minlength=self.n_users), 1)
        mean = np.bincount(users, r, self.n_users) / counts
        centred = r - mean[users]
        norm = np.sqrt(np.bincount(users, centred**2, self.n_users))
        values = centred / (norm[users] + EPS)
        shape = (self.n_users, len(d.item_ids))
        return sp.csr_matrix((values, (users, items)), shape=shape)


def user_features(matrix: RatingMatrix, seed: int = 0) -> dict[str, np.ndarray]:
    """Every feature per account (index = user code)."""
    d = matrix.data
    count = matrix.item_count[d.items]
    dev = np.abs(d.ratings - matrix.item_mean[d.items])
    lengths = np.bincount(d.users[matrix.last], minlength=matrix.n_users).astype(np.float64)
    z = matrix.z_matrix()
    return {
        "rdma": matrix.per_user_mean(dev / count),
        "wdma": matrix.per_user_mean(dev / count**2),
        "wda": matrix.per_user_mean(dev / count) * lengths,
        "length_var": np.abs(lengths - lengths.mean()) / max(_sq_sum(lengths), EPS),
        "mean_var": _filler_mean_var(matrix, dev),
        "popularity": matrix.per_user_mean(np.log(count)),
        "degsim": degsim(z),
        "pca_contribution": pca_contribution(z, seed),
    }


def degsim(z: sp.csr_matrix, k: int = DEGSIM_K) -> np.ndarray:
    """Mean Pearson correlation of each account with its k most similar accounts,
    computed in blocks so memory stays at BLOCK x users."""
    n = z.shape[0]
    k = max(1, min(k, n - 1))
    out = np.empty(n)
    zt = z.T.tocsc()
    for start in range(0, n, BLOCK):
        sims = (z[start : start + BLOCK] @ zt).toarray()
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf
        out[start : start + BLOCK] = np.partition(sims, n - k, axis=1)[:, n - k :].mean(axis=1)
    return out


def pca_contribution(z: sp.csr_matrix, seed: int = 0) -> np.ndarray:
    """PCA-VarSelect: each account's squared loadings on the top principal components of
    the accounts' correlation structure (the left singular vectors of the z matrix)."""
    components = max(1, min(PCA_COMPONENTS, min(z.shape) - 1))
    u, _, _ = randomized_svd(z, components, random_state=seed)
    return np.asarray((u**2).sum(axis=1))


def robust_z(values: np.ndarray) -> np.ndarray:
    """(value - median) / (1.4826 x MAD): a z-score that a few fake accounts cannot skew."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * 1.4826
    if mad <= EPS:
        mad = float(np.std(values)) or 1.0
    return (values - med) / mad


def _filler_mean_var(matrix: RatingMatrix, dev: np.ndarray) -> np.ndarray:
    """Mean squared deviation from the item means over an account's filler ratings (all
    but those at its own highest rating, where a pushed target sits)."""
    d = matrix.data
    top = np.full(matrix.n_users, -np.inf)
    np.maximum.at(top, d.users, d.ratings)
    filler = d.ratings < top[d.users]
    sq = np.where(filler, dev**2, 0.0)
    counts = np.bincount(d.users[matrix.last], filler[matrix.last], matrix.n_users)
    return np.bincount(d.users[matrix.last], sq[matrix.last], matrix.n_users) / np.maximum(
        counts, 1.0
    )


def _sq_sum(lengths: np.ndarray) -> float:
    """Sum of squared deviations of the profile lengths (LengthVar's denominator)."""
    return float(((lengths - lengths.mean()) ** 2).sum())
