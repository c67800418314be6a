"""The amortised posterior: a conditional neural spline flow (zuko; the paper: an nflows MAF of
rational-quadratic spline transforms) on the parameters, conditioned on an embedding of the data:
one LSTM per pulsar reads its projected residuals (in sigma units, squashed logarithmically beyond
`SQUASH`, as the paper does beyond 1000; or through asinh, which compresses every scale and trains
far faster on a small budget), its final states go through a small MLP, and the pulsars' features
through another, giving the flow's context. Parameters are mapped from their prior box
to the real line by a logit, so samples always land inside the box."""
from __future__ import annotations

import numpy as np
import torch
import zuko
from torch import nn

SQUASH = 1000.0


INPUT_TRANSFORMS = ("paper", "asinh")


def squash(x: torch.Tensor, how: str = "paper") -> torch.Tensor:
    if how == "asinh":
        return torch.asinh(x)
    big = x.abs() > SQUASH
    return torch.where(big, torch.sign(x) * (SQUASH + torch.log(x.abs().clamp(min=SQUASH) / SQUASH)), x)


class ResidualEmbedding(nn.Module):
    def __init__(self, n_pulsars: int, hidden: int, per_pulsar: int, context: int, layers: int = 1,
                 input_transform: str = "paper"):
        super().__init__()
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"input_transform must be one of {INPUT_TRANSFORMS}, got {input_transform!r}")
        self.input_transform = input_transform
        self.lstms = nn.ModuleList(nn.LSTM(1, hidden, num_layers=layers, batch_first=True) for _ in range(n_pulsars))
        self.per_pulsar = nn.ModuleList(nn.Sequential(nn.Linear(2 * layers * hidden, 2 * per_pulsar), nn.ReLU(),
                                                      nn.Linear(2 * per_pulsar, per_pulsar))
                                        for _ in range(n_pulsars))
        self.head = nn.Sequential(nn.Linear(n_pulsars * per_pulsar, 2 * context), nn.ReLU(),
                                  nn.Linear(2 * context, context))

    def forward(self, residuals: list[torch.Tensor]) -> torch.Tensor:
        features = []
        for lstm, mlp, r in zip(self.lstms, self.per_pulsar, residuals):
            _, (h, c) = lstm(squash(r, self.input_transform).unsqueeze(-1))
            state = torch.cat([h, c], 0).transpose(0, 1).reshape(len(r), -1)
            features.append(mlp(state))
        return self.head(torch.cat(features, 1))


class PosteriorFlow(nn.Module):
    """q(theta | data) for the parameters `inferred` (indices into theta) inside `bounds`."""

    def __init__(self, bounds: np.ndarray, inferred: list[int], n_pulsars: int, lstm_hidden: int, per_pulsar: int,
                 context: int, transforms: int, hidden: tuple[int, ...], lstm_layers: int = 1,
                 input_transform: str = "paper"):
        super().__init__()
        self.register_buffer("low", torch.tensor(bounds[inferred, 0], dtype=torch.float32))
        self.register_buffer("width", torch.tensor(bounds[inferred, 1] - bounds[inferred, 0], dtype=torch.float32))
        self.inferred = list(inferred)
        self.embedding = ResidualEmbedding(n_pulsars, lstm_hidden, per_pulsar, context, lstm_layers, input_transform)
        self.flow = zuko.flows.NSF(len(inferred), context, transforms=transforms, hidden_features=hidden)

    def to_latent(self, theta: torch.Tensor) -> torch.Tensor:
        u = ((theta[:, self.inferred] - self.low) / self.width).clamp(1e-6, 1 - 1e-6)
        return torch.log(u) - torch.log1p(-u)

    def loss(self, theta: torch.Tensor, residuals: list[torch.Tensor]) -> torch.Tensor:
        """The negative log density of the latent parameters (the logit's Jacobian is constant
        in the flow's weights, so this trains q(theta | data))."""
        return -self.flow(self.embedding(residuals)).log_prob(self.to_latent(theta)).mean()

    @torch.no_grad()
    def sample(self, residuals: list[torch.Tensor], count: int) -> np.ndarray:
        """(count, len(inferred)) posterior samples for one data set (each tensor (1, N_a - 3))."""
        y = self.flow(self.embedding(residuals)).sample((count,)).squeeze(1)
        return (self.low + self.width * torch.sigmoid(y)).numpy()
