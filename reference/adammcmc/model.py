"""The jet tagger the sampler is applied to: a particle-flow network (a deep set: a per-particle
MLP Phi, a masked sum over the particles, an MLP F, one logit for top vs QCD). The paper samples
ParticleNet; the sampler does not depend on the network, and a deep set trains on 2 CPU cores."""
from __future__ import annotations

import torch
from torch import nn


def _mlp(widths, n_in: int) -> tuple[nn.Sequential, int]:
    layers = []
    for w in widths:
        layers += [nn.Linear(n_in, w), nn.ReLU()]
        n_in = w
    return nn.Sequential(*layers), n_in


class ParticleFlowTagger(nn.Module):
    def __init__(self, phi=(100, 100, 128), head=(100, 100, 100), n_features: int = 3):
        super().__init__()
        self.phi, width = _mlp(phi, n_features)
        self.head, width = _mlp(head, width)
        self.out = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (N,) of top for constituents x (N, n, 3) and their mask (N, n)."""
        pooled = (self.phi(x) * mask.unsqueeze(-1)).sum(1)
        return self.out(self.head(pooled)).squeeze(-1)
