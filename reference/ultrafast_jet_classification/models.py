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


# Interaction network (l1-jet-id's IntNet): edge ("effects") MLP, node ("objects") MLP, classifier.
PAPER_INTNET = {"effects": (12, 6), "objects": (36, 18, 6), "classifier": (170,), "pool": "mean"}


def edge_pairs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Receiver and sender index of all n(n-1) ordered pairs, receiver-major."""
    recv = [r for r in range(n) for s in range(n) if s != r]
    send = [s for r in range(n) for s in range(n) if s != r]
    return torch.tensor(recv), torch.tensor(send)


def incidence_matrices(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot receiver and sender matrices R_r, R_s of shape (n, n(n-1)): R[i, e] = 1 when
    node i receives (sends) edge e."""
    recv, send = edge_pairs(n)
    edges = torch.arange(len(recv))
    rr, rs = torch.zeros(n, len(recv)), torch.zeros(n, len(recv))
    rr[recv, edges] = 1.0
    rs[send, edges] = 1.0
    return rr, rs


class InteractionNetTagger(nn.Module):
    """Interaction network on a fully connected graph of n constituents: an edge MLP on
    [receiver, sender] features of every ordered pair, edge outputs summed onto their receivers,
    a node MLP on [node, aggregated] features, pooling over nodes, a classifier MLP, logits.

    Pairs are built and aggregated with the constant one-hot incidence matrices (R_r^T x, R_r E),
    as in the paper's formulation."""

    def __init__(self, n_constituents: int, n_features: int = 3, effects=PAPER_INTNET["effects"],
                 objects=PAPER_INTNET["objects"], classifier=PAPER_INTNET["classifier"], pool: str = "mean",
                 n_classes: int = 5):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.pool = pool
        rr, rs = incidence_matrices(n_constituents)
        self.register_buffer("recv_t", rr.T.contiguous())  # (E, N)
        self.register_buffer("send_t", rs.T.contiguous())
        self.register_buffer("recv", rr)  # (N, E)
        self.edge = mlp(list(effects), 2 * n_features)
        self.node = mlp(list(objects), n_features + effects[-1])
        self.classifier = mlp(list(classifier), objects[-1])
        self.out = nn.Linear(classifier[-1] if classifier else objects[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pairs = torch.cat([self.recv_t @ x, self.send_t @ x], dim=-1)  # (B, E, 2F)
        aggregated = self.recv @ self.edge(pairs)  # (B, N, effects[-1])
        nodes = self.node(torch.cat([x, aggregated], dim=-1))
        return self.out(self.classifier(pool_particles(nodes, self.pool)))
