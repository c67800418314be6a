"""The EPiC layer (equivariant point-cloud layers; Buhmann, Kasieczka, Thaler, arXiv 2301.08128) as
the authors' later models use it (EPiC-FM / EPiC-JeDi's generator, CaloClouds' encoder): the global
vector is updated from [masked mean of the particles, a scaled masked sum, the global vector, the
conditions] by Linear - LeakyReLU - Linear plus the old vector, then LeakyReLU; each particle from
[its features, the new global vector, the conditions] the same way. Every linear layer is weight-
normalised; padding particles are zeroed and never pooled."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

SUM_SCALE = 1e-2  # the pooled sum is scaled by this (the authors' sum_scale; CaloClouds' encoder: 1e-3)


def linear(n_in: int, n_out: int) -> nn.Module:
    return weight_norm(nn.Linear(n_in, n_out))


def pool(x: torch.Tensor, mask: torch.Tensor, sum_scale: float = SUM_SCALE) -> torch.Tensor:
    """[masked mean, sum_scale x masked sum] over the particles: (batch, 2 * features)."""
    total = (x * mask[..., None]).sum(1)
    count = mask.sum(1, keepdim=True).clamp(min=1)
    return torch.cat([total / count, sum_scale * total], -1)


class EPiCLayer(nn.Module):
    def __init__(self, hidden: int, latent: int, conditions: int, sum_scale: float = SUM_SCALE):
        super().__init__()
        self.sum_scale = sum_scale
        self.global_in = linear(2 * hidden + latent + conditions, hidden)
        self.global_out = linear(hidden, latent)
        self.local_in = linear(hidden + latent + conditions, hidden)
        self.local_out = linear(hidden, hidden)
        self.act = nn.LeakyReLU()

    def forward(self, x: torch.Tensor, g: torch.Tensor, c: torch.Tensor, mask: torch.Tensor):
        g = self.act(self.global_out(self.act(self.global_in(torch.cat([pool(x, mask, self.sum_scale), g, c], -1)))) + g)
        n = x.shape[1]
        local = torch.cat([x, g[:, None].expand(-1, n, -1), c[:, None].expand(-1, n, -1)], -1)
        x = self.act(self.local_out(self.act(self.local_in(local))) + x)
        return x * mask[..., None], g
