"""The paper's toy regression (the authors' public code): x in two intervals, on the left a parabola
y = 1.5 (x + 0.5)^2 (x ~ U[-0.8, -0.2]), on the right y = 0.3 sin(10 x - 2) + 0.5
(x ~ U[0.2, 0.8]), half the points each, plus Gaussian noise; a ReLU MLP 1 -> 100 -> 100 -> 1."""
from __future__ import annotations

import numpy as np
from torch import nn

from ..ultrafast_jet_classification.models import mlp


def true_function(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, 1.5 * (x + 0.5) ** 2, 0.3 * np.sin(10 * x - 2) + 0.5)


def toy_data(n: int, noise: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32 arrays of n points (half on each interval); `seed`: an int or a tuple of ints."""
    rng = np.random.default_rng(seed)
    left = rng.uniform(-0.8, -0.2, n // 2)
    right = rng.uniform(0.2, 0.8, n - n // 2)
    x = np.concatenate([left, right])
    y = true_function(x) + rng.normal(0.0, noise, n)
    return x.astype(np.float32), y.astype(np.float32)


def evaluation_points(count: int = 10_000) -> np.ndarray:
    """Noiseless points spread evenly over both intervals, where the risk and credible sets are measured."""
    half = count // 2
    return np.concatenate([np.linspace(-0.8, -0.2, half), np.linspace(0.2, 0.8, count - half)]).astype(np.float32)


def regression_net(widths=(100, 100)) -> nn.Sequential:
    return nn.Sequential(*mlp(list(widths), 1), nn.Linear(widths[-1], 1))
