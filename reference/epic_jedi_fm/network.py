"""The EPiC network (equivariant point-cloud layers; Buhmann, Kasieczka, Thaler, arXiv 2301.08128)
as EPiC-FM and EPiC-JeDi use it (the authors' code, ewencedr/particle_fm): per-particle outputs
(a velocity or a noise estimate) for per-particle inputs, permutation-equivariant over the real
particles of each cloud.

One EPiC layer: the global vector is updated from [masked mean of the particles, 0.01 x masked sum,
the global vector, the conditions] by Linear - LeakyReLU - Linear plus the old vector, then
LeakyReLU; each particle from [its features, the new global vector, the conditions] the same way.
Around the layers: two per-particle layers lift the input, a pooled two-layer map makes the first
global vector, and a linear layer returns to the particle features. Every linear layer is weight-
normalised; the conditions (a cosine embedding of the time, the jet's pT and mass) enter every
layer. Padding particles are zeroed at every layer and never pooled."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

SUM_SCALE = 1e-2  # the pooled sum is scaled by this (the authors' sum_scale)


def _linear(n_in: int, n_out: int) -> nn.Module:
    return weight_norm(nn.Linear(n_in, n_out))


def _pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[masked mean, SUM_SCALE x masked sum] over the particles: (batch, 2 * features)."""
    total = (x * mask[..., None]).sum(1)
    count = mask.sum(1, keepdim=True).clamp(min=1)
    return torch.cat([total / count, SUM_SCALE * total], -1)


def time_embedding(t: torch.Tensor, size: int = 32) -> torch.Tensor:
    """cos and sin of pi t 2^k for k < size / 2: (batch, size)."""
    frequencies = math.pi * 2.0 ** torch.arange(size // 2, dtype=t.dtype)
    angle = t[:, None] * frequencies
    return torch.cat([torch.cos(angle), torch.sin(angle)], -1)


class EPiCLayer(nn.Module):
    def __init__(self, hidden: int, latent: int, conditions: int):
        super().__init__()
        self.global_in = _linear(2 * hidden + latent + conditions, hidden)
        self.global_out = _linear(hidden, latent)
        self.local_in = _linear(hidden + latent + conditions, hidden)
        self.local_out = _linear(hidden, hidden)
        self.act = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, g: torch.Tensor, c: torch.Tensor, mask: torch.Tensor):
        g = self.act(self.global_out(self.act(self.global_in(torch.cat([_pool(x, mask), g, c], -1)))) + g)
        n = x.shape[1]
        local = torch.cat([x, g[:, None].expand(-1, n, -1), c[:, None].expand(-1, n, -1)], -1)
        x = self.act(self.local_out(self.act(self.local_in(local))) + x)
        return x * mask[..., None], g


class EPiCNetwork(nn.Module):
    """Maps particles (batch, n, features), a mask (batch, n), the time (batch,) and the jet
    conditions (batch, k) to per-particle outputs (batch, n, features)."""

    def __init__(self, features: int = 3, hidden: int = 128, latent: int = 10, layers: int = 6,
                 jet_conditions: int = 2, time_size: int = 32):
        super().__init__()
        self.time_size = time_size
        c = jet_conditions + time_size
        self.lift_in = _linear(features + c, hidden)
        self.lift_out = _linear(hidden + c, hidden)
        self.global_in = _linear(2 * hidden + c, hidden)
        self.global_out = _linear(hidden + c, latent)
        self.layers = nn.ModuleList(EPiCLayer(hidden, latent, c) for _ in range(layers))
        self.out = _linear(hidden + c, features)
        self.act = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, t: torch.Tensor, jet: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        c = torch.cat([time_embedding(t, self.time_size), jet], -1)
        cl = c[:, None].expand(-1, x.shape[1], -1)
        h = self.act(self.lift_in(torch.cat([x, cl], -1)))
        h = (self.act(self.lift_out(torch.cat([h, cl], -1))) + h) * mask[..., None]
        g = self.act(self.global_in(torch.cat([_pool(h, mask), c], -1)))
        g = self.act(self.global_out(torch.cat([g, c], -1)))
        for layer in self.layers:
            h, g = layer(h, g, c, mask)
        return self.out(torch.cat([h, cl], -1)) * mask[..., None]
