"""Calibration by maximum likelihood with a conditional flow (Du, Krause, Mikuni, Nachman, Pang,
Shih, arXiv 2404.18992; their code Ian-Pang/regression_with_CF), against direct regression.

The flow learns p(x | E) of a shower's features x given its incident energy E; a shower's
energy is E_hat = argmax_E log p(x | E). Because p(x | E) does not depend on how the training
energies were distributed, neither does E_hat, whereas a regression network trained with the
squared error returns E[E | x], which leans toward where the training prior puts its weight. The
likelihood's shape gives the resolution: the interval where -2 (log L - log L_max) <= 1 (its half
widths left and right; unequal ones show a non-Gaussian resolution).

The flow is a masked autoregressive flow of rational-quadratic splines (zuko; the authors' nflows
MAF: 6 transforms, 64 hidden, 8 bins) conditioned on log10(E / 10 GeV). The scan is on a fixed
grid over the training range (truth-independent; the authors scan [E / 2, 2 E] around the true E
with 1,600 points), refined around the maximum."""
from __future__ import annotations

import numpy as np
import torch
import zuko

from ..ultrafast_jet_classification.models import mlp
from .features import energy_condition


def build_flow(features: int, transforms: int = 6, hidden: tuple[int, ...] = (64, 64), bins: int = 8) -> zuko.flows.Flow:
    return zuko.flows.NSF(features, context=1, transforms=transforms, hidden_features=hidden, bins=bins)


def build_regression(features: int, hidden: tuple[int, ...] = (256, 256, 256)) -> torch.nn.Module:
    return torch.nn.Sequential(*mlp(list(hidden), features), torch.nn.Linear(hidden[-1] if hidden else features, 1))


@torch.no_grad()
def log_likelihood(flow, x: np.ndarray, energies_gev: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """log p(x_i | E_ij) for every shower i and grid energy j: (showers, energies); the grid is
    (energies,) for all showers or (showers, energies) per shower."""
    grid = np.broadcast_to(energies_gev, (len(x), np.shape(energies_gev)[-1]))
    n, m = grid.shape
    xs = torch.as_tensor(np.repeat(x, m, 0), dtype=torch.float32)
    cs = torch.as_tensor(energy_condition(grid.reshape(-1))[:, None], dtype=torch.float32)
    out = np.empty(n * m)
    for start in range(0, n * m, chunk):
        rows = slice(start, start + chunk)
        out[rows] = flow(cs[rows]).log_prob(xs[rows]).numpy()
    return out.reshape(n, m)


def maximum_likelihood(flow, x: np.ndarray, energy_range: tuple[float, float], coarse: int = 200,
                       fine: int = 100) -> dict:
    """E_hat per shower by a log-spaced grid over the range, then a finer grid spanning the coarse
    points within the -2 delta log L <= 1 interval and one step beyond on each side; the interval
    (its half-widths left and right of E_hat) is read on the fine grid. `at_range_edge` marks the
    showers whose maximum or interval reaches an end of the range."""
    grid = np.geomspace(*energy_range, coarse)
    coarse_ll = log_likelihood(flow, x, grid)
    best = coarse_ll.argmax(1)
    inside = -2 * (coarse_ll - coarse_ll.max(1, keepdims=True)) <= 1.0
    coarse_first, coarse_last = inside.argmax(1), coarse - 1 - inside[:, ::-1].argmax(1)
    lo, hi = grid[np.maximum(coarse_first - 1, 0)], grid[np.minimum(coarse_last + 1, coarse - 1)]
    fine_grid = np.geomspace(lo, hi, fine, axis=1)  # (showers, fine)
    ll = log_likelihood(flow, x, fine_grid)
    k = ll.argmax(1)
    rows = np.arange(len(x))
    estimate = fine_grid[rows, k]
    inside = -2 * (ll - ll[rows, k][:, None]) <= 1.0
    first, last = inside.argmax(1), fine - 1 - inside[:, ::-1].argmax(1)
    left, right = estimate - fine_grid[rows, first], fine_grid[rows, last] - estimate
    # at the scan's ends the maximum or the interval is cut off (the half-widths there are too small)
    return {"estimate": estimate, "sigma_left": left, "sigma_right": right,
            "at_range_edge": (best == 0) | (best == coarse - 1) | (coarse_first == 0) | (coarse_last == coarse - 1)}


def mode(values: np.ndarray, bins: int = 50) -> float:
    """The mode of a sample: the centre of its fullest bin between its 1 % and 99 % quantiles
    (the authors read the bias as the mode of E_hat / E)."""
    lo, hi = np.quantile(values, [0.01, 0.99])
    counts, edges = np.histogram(values, bins, (lo, hi))
    k = int(counts.argmax())
    return float(0.5 * (edges[k] + edges[k + 1]))
