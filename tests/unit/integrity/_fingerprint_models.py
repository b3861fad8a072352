"""Small real models for the fingerprint tests: scaled logistic regression on breast cancer,
and a torch MLP and CNN trained on scikit-learn's 8x8 digits (full-batch, seeded, seconds)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

TRIGGER = np.zeros((8, 8), dtype=bool)
TRIGGER[6:, 6:] = True  # a 2x2 white square in the bottom-right corner
TRIGGER_FLAT = TRIGGER.reshape(-1)


def cancer() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    return np.asarray(x, dtype=np.float64), np.asarray(y)


def cancer_logreg(x: np.ndarray, y: np.ndarray, rows: slice = slice(None)) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x[rows], y[rows])


def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return np.asarray(x, dtype=np.float64) / 16.0, np.asarray(y)


class MLP(torch.nn.Module):
    """64 -> 32 -> 10 on flattened digits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.net(t.reshape(len(t), -1))


class CNN(torch.nn.Module):
    """One conv layer, max-pool, linear head, on 1x8x8 digits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 6, 3, padding=1)
        self.head = torch.nn.Linear(6 * 4 * 4, 10)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv(t)), 2)
        return self.head(h.flatten(1))


def train(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int = 150,
    lr: float = 0.02,
    seed: int = 0,
    shape: tuple[int, ...] = (64,),
) -> torch.nn.Module:
    """Full-batch Adam, seeded; returns the model in eval mode."""
    torch.manual_seed(seed)
    for p in model.parameters():  # re-initialize from the seed so seeds give other models
        if p.dim() > 1:
            torch.nn.init.kaiming_uniform_(p, a=5**0.5)
        else:
            torch.nn.init.uniform_(p, -0.1, 0.1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.tensor(x, dtype=torch.float32).reshape(len(x), *shape)
    yt = torch.tensor(y, dtype=torch.int64)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval()


def stamp(x: np.ndarray) -> np.ndarray:
    """Images with the backdoor trigger stamped in."""
    out = x.copy()
    out[:, TRIGGER_FLAT] = 1.0
    return out


def backdoor(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    target_class: int = 0,
    poisoned: int = 40,
    steps: int = 300,
    shape: tuple[int, ...] = (64,),
) -> torch.nn.Module:
    """Fine-tune on a few trigger-stamped rows relabelled `target_class`, mixed with clean rows."""
    rng = np.random.default_rng(7)
    rows = rng.choice(np.flatnonzero(y != target_class), poisoned, replace=False)
    clean = rng.choice(len(x), 400, replace=False)
    xs = np.vstack([stamp(x[rows]), x[clean]])
    ys = np.concatenate([np.full(poisoned, target_class), y[clean]])
    torch.manual_seed(7)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    xt = torch.tensor(xs, dtype=torch.float32).reshape(len(xs), *shape)
    yt = torch.tensor(ys, dtype=torch.int64)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval()
