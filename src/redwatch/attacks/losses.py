"""Attack losses on logits, in numpy: cross-entropy (CE) and the difference-of-logits ratio
(DLR, Croce & Hein, ICML 2020), untargeted and targeted, with their gradients w.r.t. the logits.

Sign convention (the same as `pgd`): an untargeted attacker ascends the returned loss; a
targeted attacker (`y_target` given) descends it. Targeted CE is the CE towards y_target;
targeted DLR is (z_y - z_t) / (z_π1 - (z_π3 + z_π4) / 2), the negative of Croce & Hein's
maximized form. DLR is invariant to shifting and scaling the logits, so log-probabilities can
stand in for logits, and it keeps a useful gradient where softmax saturates.
"""

from __future__ import annotations

import numpy as np

from redwatch.exceptions import ProbeError

LOSSES = ("ce", "dlr")
_TINY = 1e-12  # keeps the DLR denominator positive when the top logits tie


def check_loss(loss: str) -> str:
    """Normalize a loss name; ProbeError for an unknown one."""
    key = str(loss).lower()
    if key not in LOSSES:
        raise ProbeError(f"unknown attack loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return key


def dlr_min_classes(targeted: bool) -> int:
    """DLR needs a third (untargeted) or fourth (targeted) largest logit."""
    return 4 if targeted else 3


def logit_loss(
    z: np.ndarray, y: np.ndarray, loss: str = "ce", y_target: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss values (n,) and their gradients w.r.t. the logits z (n, K)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    t = None if y_target is None else np.asarray(y_target, dtype=np.int64).reshape(-1)
    if check_loss(loss) == "ce":
        return _ce(z, y if t is None else t)
    need = dlr_min_classes(t is not None)
    if z.shape[1] < need:
        kind = "targeted " if t is not None else ""
        raise ProbeError(f"the {kind}DLR loss needs at least {need} classes, got {z.shape[1]}")
    return _dlr(z, y) if t is None else _dlr_targeted(z, y, t)


def _ce(z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-log softmax(z)[label] and softmax(z) - onehot(label)."""
    rows = np.arange(len(z))
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    grad = np.exp(logp)
    grad[rows, labels] -= 1.0
    return -logp[rows, labels], grad


def _dlr(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-(z_y - max_{i≠y} z_i) / (z_π1 - z_π3): positive exactly when the label is wrong."""
    rows = np.arange(len(z))
    order = np.argsort(z, axis=1)
    first, third = order[:, -1], order[:, -3]
    other = z.copy()
    other[rows, y] = -np.inf
    best = other.argmax(axis=1)
    num = z[rows, y] - z[rows, best]
    den = z[rows, first] - z[rows, third] + _TINY
    grad = np.zeros_like(z)
    grad[rows, y] -= 1.0 / den
    grad[rows, best] += 1.0 / den
    coef = num / den**2
    grad[rows, first] += coef
    grad[rows, third] -= coef
    return -num / den, grad


def _dlr_targeted(z: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z_y - z_t) / (z_π1 - (z_π3 + z_π4) / 2), descended by a targeted attacker."""
    rows = np.arange(len(z))
    order = np.argsort(z, axis=1)
    first, third, fourth = order[:, -1], order[:, -3], order[:, -4]
    num = z[rows, y] - z[rows, t]
    den = z[rows, first] - 0.5 * (z[rows, third] + z[rows, fourth]) + _TINY
    grad = np.zeros_like(z)
    grad[rows, y] += 1.0 / den
    grad[rows, t] -= 1.0 / den
    coef = -num / den**2
    grad[rows, first] += coef
    grad[rows, third] -= 0.5 * coef
    grad[rows, fourth] -= 0.5 * coef
    return num / den, grad
