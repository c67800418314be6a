"""The EPiC network (equivariant point-cloud layers; Buhmann, Kasieczka, Thaler, arXiv 2301.08128)
as EPiC-FM and EPiC-JeDi use it (the authors' code, ewencedr/particle_fm): per-particle outputs
(a velocity or a noise estimate) for per-particle inputs, permutation-equivariant over the real
particles of each cloud.

The EPiC layers are reference/epic.py's. Around them: two per-particle layers lift the input, a
pooled two-layer map makes the first global vector, and a linear layer returns to the particle
features. The conditions (a cosine embedding of the time, the jet's pT and mass) enter every
layer."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..epic import EPiCLayer, linear, pool


def time_embedding(t: torch.Tensor, size: int = 32) -> torch.Tensor:
    """cos and sin of pi t 2^k for k < size / 2: (batch, size)."""
    frequencies = math.pi * 2.0 ** torch.arange(size // 2, dtype=t.dtype)
    angle = t[:, None] * frequencies
    return torch.cat([torch.cos(angle), torch.sin(angle)], -1)


class EPiCNetwork(nn.Module):
    """Maps particles (batch, n, features), a mask (batch, n), the time (batch,) and the jet
    conditions (batch, k) to per-particle outputs (batch, n, features)."""

    def __init__(self, features: int = 3, hidden: int = 128, latent: int = 10, layers: int = 6,
                 jet_conditions: int = 2, time_size: int = 32):
        super().__init__()
        self.time_size = time_size
        c = jet_conditions + time_size
        self.lift_in = linear(features + c, hidden)
        self.lift_out = linear(hidden + c, hidden)
        self.global_in = linear(2 * hidden + c, hidden)
        self.global_out = linear(hidden + c, latent)
        self.layers = nn.ModuleList(EPiCLayer(hidden, latent, c) for _ in range(layers))
        self.out = linear(hidden + c, features)
        self.act = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, t: torch.Tensor, jet: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        c = torch.cat([time_embedding(t, self.time_size), jet], -1)
        cl = c[:, None].expand(-1, x.shape[1], -1)
        h = self.act(self.lift_in(torch.cat([x, cl], -1)))
        h = (self.act(self.lift_out(torch.cat([h, cl], -1))) + h) * mask[..., None]
        g = self.act(self.global_in(torch.cat([pool(h, mask), c], -1)))
        g = self.act(self.global_out(torch.cat([g, c], -1)))
        for layer in self.layers:
            h, g = layer(h, g, c, mask)
        return self.out(torch.cat([h, cl], -1)) * mask[..., None]
