"""The demo MNIST CNN architecture (2 conv + 1 linear), importable by path so that a saved
state dict loads with `--model-class redwatch.demo.mnist_net:MnistCNN`. Needs torch."""

from __future__ import annotations

import torch
from torch import nn


class ToImage(nn.Module):
    """Reshape rows to (n, 1, 28, 28); accepts flattened (n, 784) or image batches."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened rows in, one-channel 28x28 images out."""
        return x.reshape(len(x), 1, 28, 28)


class MnistCNN(nn.Sequential):
    """Small CNN for 28x28 digits: logits for 10 classes."""

    def __init__(self) -> None:
        super().__init__(
            ToImage(),
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 10),
        )
