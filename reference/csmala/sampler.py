"""Stochastic Metropolis-adjusted Langevin (Bieringer, Kasieczka, Steffen, Trabs, arXiv:2310.09335):
MALA whose Metropolis-Hastings test is computed on a Bernoulli mini-batch, and the corrected risk
that keeps the full sample size.

Target: the Gibbs posterior exp(-lambda R_n(theta)) pi(theta), R_n the mean loss over n data
points, pi a Gaussian prior N(0, prior_std^2) per parameter (or flat). A batch B takes each point independently with probability rho. Three energies E:
  - "full":      E(theta)    = lambda R_n(theta)                      (every point, every step);
  - "naive":     E(theta, B) = lambda / (n rho) * sum_B l_i           (the batch estimate of it);
  - "corrected": E(theta, B) = lambda (2 - rho) / n * sum_B l_i + zeta log(rho) |B|, zeta = 1: the
                 paper's correction;
  - "centred":   the same with zeta chosen so that zeta log(rho) cancels the start's mean energy per
                 batch point and the batch size no longer swings the energy (the authors' runs do
                 this, re-estimating it as the chain goes; here it is fixed per chain, so the test
                 stays exact). Per point the marginal is (1 - rho) + rho^(1 - zeta) exp(-lambda (2 - rho) l_i / n).
The batch is part of the chain's state: each proposal draws a fresh B' with theta', and the test
compares E(theta, B) (kept from when theta was accepted) with E(theta', B'). Summing B out of the
joint stationary law, each point contributes to the marginal of theta
  - naive:     (1 - rho) + rho exp(-lambda l_i / (n rho)): a point's pull is capped (at 1/(1-rho)),
               so the chain sees a reduced effective sample size;
  - corrected: (1 - rho) + exp(-lambda (2 - rho) l_i / n) ~ (2 - rho) exp(-lambda l_i / n) for
               small lambda l_i / n: the log(rho) |B| term (rho^-|B|) restores the weight of the
               points a batch leaves out, and (2 - rho) the temperature.
Both caps leave a floor (1 - rho)^n as theta runs away: with a flat prior the surrogate posteriors
are improper, which a prior (or large n, the floor shrinking as ((1 - rho) / (2 - rho))^n for the
corrected one) makes harmless. (These marginals are what the tests check the chain against.) The correction term would cancel
if both energies were computed on one batch; the chain on (theta, B) is what makes it count.

The proposal is the Langevin step of the batch: theta' ~ N(theta - h lambda grad R_B(theta), 2h I)
with R_B = sum_B l_i / (n rho) (the full risk for "full"), and the reverse density uses the new
batch's gradient at theta'. It is the same for the three energies, so only the test differs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..mcmc import (AcceptanceCount, assign, flat, gaussian_draw, gaussian_log_density, loss_and_gradient,
                    metropolis_accepts)

METHODS = ("full", "naive", "corrected", "centred")


@dataclass
class _State:
    energy: float
    grad: torch.Tensor  # of lambda R_B at the state's parameters


class StochasticMALA(AcceptanceCount):
    """`losses(rows)` returns the per-point losses l_i (a tensor) of the data rows `rows` at the
    current parameters; `step()` moves the parameters to the chain's next state."""

    def __init__(self, params, losses, n: int, method: str = "corrected", rho: float = 0.1, step_size: float = 1e-6,
                 inverse_temperature: float | None = None, prior_std: float | None = None, seed: int = 0):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not 0.0 < rho <= 1.0 or step_size <= 0.0 or n < 1:
            raise ValueError(f"need 0 < rho <= 1, step_size > 0, n >= 1 (got {rho}, {step_size}, {n})")
        self.params = [p for p in params if p.requires_grad]
        self.losses, self.n, self.method, self.rho, self.h = losses, n, method, rho, step_size
        self.lam = float(n) if inverse_temperature is None else inverse_temperature
        self.prior_precision = 0.0 if prior_std is None else prior_std ** -2
        self.zeta = 1.0
        if method == "centred" and rho < 1.0:  # from the start's mean loss per point
            with torch.no_grad():
                mean_loss = float(losses(torch.arange(n)).mean())
            self.zeta = -self.lam * (2 - rho) * mean_loss / (n * math.log(rho))
        self.generator = torch.Generator().manual_seed(seed)
        self._state = self._evaluate(self._draw_rows())

    def _draw_rows(self) -> torch.Tensor:
        if self.method == "full":
            return torch.arange(self.n)
        return torch.nonzero(torch.rand(self.n, generator=self.generator) < self.rho).reshape(-1)

    def _evaluate(self, rows: torch.Tensor) -> _State:
        """Energy and Langevin drift gradient at the current parameters on `rows`."""
        per_point = self.n if self.method == "full" else self.n * self.rho
        theta = flat(self.params)
        prior = 0.5 * self.prior_precision * float(theta @ theta)
        if len(rows) == 0:
            return _State(prior, self.prior_precision * theta)
        batch_risk, grad = loss_and_gradient(self.params, lambda: self.losses(rows).sum() / per_point)
        energy = self.lam * batch_risk
        if self.method in ("corrected", "centred"):
            energy = self.lam * (2 - self.rho) * batch_risk * self.rho + self.zeta * math.log(self.rho) * len(rows)
        return _State(energy + prior, self.lam * grad + self.prior_precision * theta)

    def step(self) -> bool:
        theta = flat(self.params)
        noise = math.sqrt(2 * self.h)
        mean = theta - self.h * self._state.grad
        proposal = gaussian_draw(mean, noise, self.generator)
        assign(self.params, proposal)
        new = self._evaluate(self._draw_rows())
        log_ratio = (self._state.energy - new.energy
                     + gaussian_log_density(theta, proposal - self.h * new.grad, noise)
                     - gaussian_log_density(proposal, mean, noise))
        accepted = math.isfinite(new.energy) and metropolis_accepts(log_ratio, self.generator)
        if accepted:
            self._state = new
        else:
            assign(self.params, theta)
        self.record(accepted)
        return accepted
