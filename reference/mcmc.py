"""Pieces shared by the gradient-based Metropolis-Hastings samplers of the references (AdamMCMC,
corrected stochastic MALA): a network's parameters as one flat vector, the log-density of a
Gaussian proposal whose covariance is sigma^2 I plus an optional rank-one "prolate" part
sigma_dir^2 u u^T along a direction u, a draw from it, the Metropolis-Hastings test and which
steps of a chain are kept."""
from __future__ import annotations

import math

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters


def flat(params: list[torch.Tensor]) -> torch.Tensor:
    """The parameters as one detached vector."""
    return parameters_to_vector(params).detach().clone()


def assign(params: list[torch.Tensor], vector: torch.Tensor) -> None:
    """Write a flat vector back into the parameters (no gradient history)."""
    with torch.no_grad():
        vector_to_parameters(vector, params)


def loss_and_gradient(params: list[torch.Tensor], closure) -> tuple[float, torch.Tensor]:
    """The closure's loss at the current parameters and its gradient as a flat vector."""
    for p in params:
        p.grad = None
    with torch.enable_grad():
        loss = closure()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    return loss.item(), torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                   for g, p in zip(grads, params)]).detach()


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, sigma: float, direction: torch.Tensor | None = None,
                         sigma_dir: float = 0.0) -> float:
    """log N(x; mean, sigma^2 I + sigma_dir^2 u u^T) with u = `direction` (Sherman-Morrison: exact
    for any dimension without forming the matrix)."""
    d = (x - mean).double()
    dim = d.numel()
    quad = float(d @ d) / sigma ** 2
    logdet = dim * math.log(sigma ** 2)
    if direction is not None and sigma_dir > 0.0:
        u = direction.double()
        uu = float(u @ u)
        ud = float(u @ d)
        quad -= sigma_dir ** 2 * ud ** 2 / (sigma ** 2 * (sigma ** 2 + sigma_dir ** 2 * uu))
        logdet += math.log1p(sigma_dir ** 2 * uu / sigma ** 2)
    return -0.5 * (quad + logdet + dim * math.log(2 * math.pi))


def gaussian_draw(mean: torch.Tensor, sigma: float, generator: torch.Generator, direction: torch.Tensor | None = None,
                  sigma_dir: float = 0.0) -> torch.Tensor:
    """A draw from N(mean, sigma^2 I + sigma_dir^2 u u^T): isotropic noise plus one scalar normal
    times u (the rank-one part has exactly that covariance)."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    out = mean + sigma * noise
    if direction is not None and sigma_dir > 0.0:
        out = out + sigma_dir * torch.randn((), generator=generator, dtype=mean.dtype) * direction
    return out


def metropolis_accepts(log_ratio: float, generator: torch.Generator) -> bool:
    """Accept with probability min(1, exp(log_ratio)); a NaN ratio rejects."""
    if math.isnan(log_ratio):
        return False
    return log_ratio >= 0.0 or float(torch.rand((), generator=generator, dtype=torch.float64)) < math.exp(log_ratio)


class AcceptanceCount:
    """A sampler's share of accepted proposals since the last reset."""

    steps = 0
    accepted = 0

    def record(self, accepted: bool) -> None:
        self.steps += 1
        self.accepted += accepted

    @property
    def acceptance(self) -> float:
        return self.accepted / self.steps if self.steps else float("nan")

    def reset_acceptance(self) -> None:
        self.steps = self.accepted = 0


def is_kept(step: int, burn_in: int, thinning: int) -> bool:
    """Whether chain step `step` (0-based) is a kept sample: every `thinning`-th after `burn_in`."""
    return step >= burn_in and (step - burn_in + 1) % thinning == 0
