"""AdamMCMC (Bieringer, Kasieczka, Steffen, Trabs, arXiv:2312.14027): Metropolis-Hastings whose
proposal is an Adam step plus Gaussian noise, sampling the tempered posterior exp(-lambda L(theta)).

One step from theta, with Adam's moments (m, v) before the step:
  - the gradient g at theta updates the moments to (m', v'); u = Adam's step from them;
  - the proposal tau ~ N(theta - u, Sigma_u), Sigma_u = sigma^2 I + sigma_dir^2 u u^T: isotropic
    noise plus the "prolate" part along the step, which lets the chain move far along the
    optimiser's direction at a small sigma;
  - the reverse proposal is the same construction from tau (its gradient, the same (m, v)):
    q(theta | tau) = N(theta; tau - u_tau, Sigma_{u_tau});
  - accept with min(1, exp(lambda (L(theta) - L(tau))) q(theta | tau) / q(tau | theta)),
    both losses on the same batch (the closure's batch of this step).
Within a step the kernel is fixed by (m, v), so the test is the exact Metropolis-Hastings test for
it. The moments then move on to (m', v') whatever the outcome (the authors' code keeps Adam's
state on rejection too), so the chain adapts slowly (betas near 1), as adaptive MCMC does.

The noise scales follow the authors' code: the isotropic standard deviation per parameter is
sigma / sqrt(P) and the prolate one is sigma_dir (P: the number of parameters). The authors' code
draws its prolate noise per coordinate (covariance diag(u^2)) while its acceptance uses u u^T;
here the draw has exactly the covariance the acceptance uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..mcmc import (AcceptanceCount, assign, flat, gaussian_draw, gaussian_log_density, loss_and_gradient,
                    metropolis_accepts)


@dataclass
class StepResult:
    loss: float
    proposal_loss: float
    log_ratio: float
    accepted: bool


class AdamMCMC(AcceptanceCount):
    """An optimizer-like sampler: `step(closure)` evaluates the closure (the loss on this step's
    batch, at the current parameters) twice and leaves the parameters at the chain's next state."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.99, 0.99), eps: float = 1e-8,
                 sigma: float = 1.0, sigma_dir: float = 0.0, temperature: float = 1.0, seed: int = 0):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("AdamMCMC: no parameters to sample")
        if sigma <= 0.0 or sigma_dir < 0.0 or lr <= 0.0 or temperature <= 0.0:
            raise ValueError(f"AdamMCMC: need sigma > 0, sigma_dir >= 0, lr > 0, temperature > 0 "
                             f"(got {sigma}, {sigma_dir}, {lr}, {temperature})")
        self.lr, self.betas, self.eps = lr, betas, eps
        self.sigma_dir, self.temperature = sigma_dir, temperature
        self.n_params = sum(p.numel() for p in self.params)
        self.noise = sigma / math.sqrt(self.n_params)
        self.m = torch.zeros(self.n_params, dtype=self.params[0].dtype)
        self.v = torch.zeros_like(self.m)
        self.t = 0
        self.generator = torch.Generator().manual_seed(seed)

    def adam_step(self, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(m', v', u): the moments updated with `grad` from the current ones and Adam's step."""
        b1, b2 = self.betas
        m = b1 * self.m + (1 - b1) * grad
        v = b2 * self.v + (1 - b2) * grad * grad
        t = self.t + 1
        u = self.lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + self.eps)
        return m, v, u

    def step(self, closure) -> StepResult:
        theta = flat(self.params)
        loss, grad = loss_and_gradient(self.params, closure)
        m, v, u = self.adam_step(grad)
        tau = gaussian_draw(theta - u, self.noise, self.generator, u, self.sigma_dir)
        assign(self.params, tau)
        proposal_loss, proposal_grad = loss_and_gradient(self.params, closure)
        _, _, u_back = self.adam_step(proposal_grad)
        log_ratio = self.temperature * (loss - proposal_loss) + self.proposal_log_ratio(theta, tau, u, u_back)
        accepted = math.isfinite(proposal_loss) and metropolis_accepts(log_ratio, self.generator)
        if not accepted:
            assign(self.params, theta)
        self.m, self.v, self.t = m, v, self.t + 1
        self.record(accepted)
        return StepResult(loss, proposal_loss, log_ratio, accepted)

    def proposal_log_ratio(self, theta: torch.Tensor, tau: torch.Tensor, u: torch.Tensor,
                           u_back: torch.Tensor) -> float:
        """log q(theta | tau) - log q(tau | theta): the Hastings correction of the drifted proposal."""
        return (gaussian_log_density(theta, tau - u_back, self.noise, u_back, self.sigma_dir)
                - gaussian_log_density(tau, theta - u, self.noise, u, self.sigma_dir))

