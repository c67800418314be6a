"""Float deep-set and MLP jet taggers (the paper's architectures, PyTorch)."""
from __future__ import annotations

import torch
from torch import nn

# The paper's configurations (l1-jet-id configs at 046f82b).
PAPER_DEEPSET = {"phi": (32, 32, 32), "rho": (32,), "pool": "mean"}
PAPER_MLP = {"widths": (120, 60, 32, 64, 64, 64, 32, 44)}
POOLS = ("mean", "sum", "max")


def pool_particles(x: torch.Tensor, how: str) -> torch.Tensor:
    """Permutation-invariant aggregation over the particle axis (dim 1)."""
    if how == "mean":
        return x.mean(dim=1)
    if how == "sum":
        return x.sum(dim=1)
    if how == "max":
        return x.max(dim=1).values
    raise ValueError(f"pool must be one of {POOLS}, got {how!r}")


def mlp(widths: list[int], n_in: int) -> nn.Sequential:
    layers, prev = [], n_in
    for w in widths:
        layers += [nn.Linear(prev, w), nn.ReLU()]
        prev = w
    return nn.Sequential(*layers)


class DeepSetTagger(nn.Module):
    """phi MLP per constituent -> pooling over constituents -> rho MLP -> class logits."""

    def __init__(self, n_features: int = 3, phi=PAPER_DEEPSET["phi"], rho=PAPER_DEEPSET["rho"],
                 pool: str = "mean", n_classes: int = 5):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.pool = pool
        self.phi = mlp(list(phi), n_features)
        self.rho = mlp(list(rho), phi[-1])
        self.out = nn.Linear(rho[-1] if rho else phi[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rho(pool_particles(self.phi(x), self.pool)))


class MLPTagger(nn.Module):
    """Flattened constituents -> dense ReLU layers -> class logits."""

    def __init__(self, n_constituents: int, n_features: int = 3, widths=PAPER_MLP["widths"], n_classes: int = 5):
        super().__init__()
        self.body = mlp(list(widths), n_constituents * n_features)
        self.out = nn.Linear(widths[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x.flatten(1)))
