"""The jet tagger the sampler is applied to: a particle-flow network (a deep set: a per-particle
MLP Phi, a masked sum over the particles, an MLP F, one logit for top vs QCD). The paper samples
ParticleNet; the sampler does not depend on the network, and a deep set trains on 2 CPU cores."""
from __future__ import annotations

import torch
from torch import nn

from ..ultrafast_jet_classification.models import mlp


class ParticleFlowTagger(nn.Module):
    def __init__(self, phi=(100, 100, 128), head=(100, 100, 100), n_features: int = 3):
        super().__init__()
        self.phi = mlp(list(phi), n_features)
        self.head = mlp(list(head), phi[-1])
        self.out = nn.Linear(head[-1], 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (N,) of top for constituents x (N, n, 3) and their mask (N, n)."""
        pooled = (self.phi(x) * mask.unsqueeze(-1)).sum(1)
        return self.out(self.head(pooled)).squeeze(-1)
