"""EDM diffusion (Karras et al. 2022) around a per-point network, and consistency distillation
(Song et al. 2023) of a one-step student from it, as CaloClouds II uses them.

Points are normalised so that every feature has standard deviation sigma_data; sigma is drawn per
point (the network is pointwise, so this is the same objective as one sigma per shower with less
variance).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EDMSettings:
    """The paper's EDM constants (CaloClouds II configs: sigma_data 0.5, log-normal sigma density
    N(-1.2, 1.2), sigma in [0.002, 80], rho 7)."""
    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0


class Denoiser(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, ln(sigma)/4, context). With `consistency` the
    boundary-condition scalings of a consistency model: D(x, sigma_min) = x exactly."""

    def __init__(self, net: nn.Module, edm: EDMSettings, consistency: bool = False):
        super().__init__()
        self.net, self.edm, self.consistency = net, edm, consistency

    def scalings(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sd = self.edm.sigma_data
        c_in = 1 / (sigma ** 2 + sd ** 2).sqrt()
        if self.consistency:
            shifted = sigma - self.edm.sigma_min
            return sd ** 2 / (shifted ** 2 + sd ** 2), shifted * sd * c_in, c_in
        return sd ** 2 / (sigma ** 2 + sd ** 2), sigma * sd * c_in, c_in

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """x (..., d), sigma (...,) or a scalar tensor, context (..., c)."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype).expand(x.shape[:-1])
        c_skip, c_out, c_in = (s[..., None] for s in self.scalings(sigma))
        return c_skip * x + c_out * self.net(c_in * x, sigma.log() / 4, context)


def edm_loss(denoiser: Denoiser, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """The EDM denoising loss, written as the network's regression target (k-diffusion's form,
    equal to the lambda(sigma)-weighted loss of the paper)."""
    edm = denoiser.edm
    sigma = (torch.randn(x.shape[:-1]) * edm.p_std + edm.p_mean).exp()
    noisy = x + torch.randn_like(x) * sigma[..., None]
    c_skip, c_out, c_in = (s[..., None] for s in denoiser.scalings(sigma))
    target = (x - c_skip * noisy) / c_out
    return (denoiser.net(c_in * noisy, sigma.log() / 4, context) - target).pow(2).mean()


def karras_sigmas(n_steps: int, edm: EDMSettings) -> torch.Tensor:
    """The n_steps noise levels from sigma_max down to sigma_min (rho spacing), then 0."""
    ramp = torch.linspace(0, 1, n_steps, dtype=torch.float64)
    lo, hi = edm.sigma_min ** (1 / edm.rho), edm.sigma_max ** (1 / edm.rho)
    return torch.cat([(hi + ramp * (lo - hi)) ** edm.rho, torch.zeros(1, dtype=torch.float64)]).float()


def heun_step(denoiser: Denoiser, x: torch.Tensor, sigma: torch.Tensor, next_sigma: torch.Tensor,
              context: torch.Tensor) -> torch.Tensor:
    """One step of Heun's method on the probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma
    (Euler when next_sigma is 0). sigma and next_sigma have the shape of x[..., 0]."""
    step = (next_sigma - sigma)[..., None]
    slope = (x - denoiser(x, sigma, context)) / sigma[..., None]
    euler = x + step * slope
    if bool((next_sigma == 0).all()):
        return euler
    next_slope = (euler - denoiser(euler, next_sigma, context)) / next_sigma[..., None]
    return x + step * (slope + next_slope) / 2


@torch.no_grad()
def sample_heun(denoiser: Denoiser, noise: torch.Tensor, context: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Deterministic Heun sampling from x = sigma_max * noise: 2 n_steps - 1 network evaluations."""
    sigmas = karras_sigmas(n_steps, denoiser.edm)
    x = noise * sigmas[0]
    shape = x.shape[:-1]
    for sigma, next_sigma in zip(sigmas[:-1], sigmas[1:]):
        x = heun_step(denoiser, x, sigma.expand(shape), next_sigma.expand(shape), context)
    return x


@torch.no_grad()
def sample_one_step(student: Denoiser, noise: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """The consistency model's single evaluation at sigma_max."""
    return student(noise * student.edm.sigma_max, torch.tensor(student.edm.sigma_max), context)


def consistency_distillation_loss(student: Denoiser, target: Denoiser, teacher: Denoiser, x: torch.Tensor,
                                  context: torch.Tensor, n_scales: int) -> torch.Tensor:
    """|| f(x + t_n z, t_n) - f_ema(Heun_teacher(x + t_n z, t_n -> t_{n+1}), t_{n+1}) ||^2 with
    t_n, t_{n+1} adjacent Karras levels (t_n > t_{n+1}) drawn per point."""
    sigmas = karras_sigmas(n_scales, student.edm)[:-1]
    index = torch.randint(0, n_scales - 1, x.shape[:-1])
    t, t_next = sigmas[index], sigmas[index + 1]
    x_t = x + torch.randn_like(x) * t[..., None]
    with torch.no_grad():
        x_next = heun_step(teacher, x_t, t, t_next, context)
        goal = target(x_next, t_next, context)
    return (student(x_t, t, context) - goal).pow(2).mean()
