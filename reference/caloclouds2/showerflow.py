"""ShowerFlow: a conditional normalising flow over what a shower is made of (data.shower_features)
given its incident energy. Neural rational-quadratic spline couplings (zuko's NSF with two passes,
a coupling flow as the paper's pyro model) on standardised features."""
from __future__ import annotations

import numpy as np
import torch
import zuko
from torch import nn


class ShowerFlow(nn.Module):
    def __init__(self, n_features: int, transforms: int, hidden: tuple[int, ...], energy_range: tuple[float, float]):
        super().__init__()
        self.flow = zuko.flows.NSF(n_features, context=1, transforms=transforms, hidden_features=hidden, passes=2)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("energy_range", torch.tensor(energy_range, dtype=torch.float32))

    def set_scale(self, features: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(features.mean(0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(features.std(0) + 1e-6, dtype=torch.float32))

    def _context(self, energy: torch.Tensor) -> torch.Tensor:
        lo, hi = self.energy_range
        return (2 * (energy - lo) / (hi - lo) - 1)[:, None].float()

    def nll(self, features: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of standardised features."""
        return -self.flow(self._context(energy)).log_prob((features - self.mean) / self.std).mean()

    @torch.no_grad()
    def sample(self, energy: np.ndarray) -> np.ndarray:
        """One feature row per incident energy (GeV)."""
        z = self.flow(self._context(torch.as_tensor(energy, dtype=torch.float32))).sample()
        return (z * self.std + self.mean).numpy().astype(np.float64)
