"""CaloClouds (arXiv 2305.04847) as the authors' code builds it (FLC-QU-hep/CaloClouds):

- an EPiC encoder maps a whole shower (its points and the conditions: incident energy, number of
  points) to the mean and log-variance of a latent z (a VAE; KL weight 1e-3 on max(KL, 1));
- a DDPM over single points: 100 steps, beta from 1e-4 to 0.02 on a quadratic schedule (it ends at
  alpha_bar = 0.49, not at noise, yet sampling starts from N(0, 1), as the authors'), the noise
  predicted by a PointWiseNet of ConcatSquash layers whose context is (beta, sin beta, cos beta),
  z and the conditions, with a residual output (x + net), trained with the squared error;
- a latent flow p(z | conditions) (rational-quadratic spline couplings) trained alongside on the
  encoder's z (detached): at sampling time z comes from it, so no encoder is needed."""
from __future__ import annotations

import torch
import zuko
from torch import nn
from torch.nn import functional as F

from ..caloclouds2.networks import ConcatSquashLinear
from ..epic import EPiCLayer, linear, pool

ENCODER_SUM_SCALE = 1e-3


class EPiCEncoder(nn.Module):
    """Points (batch, n, 4), mask (batch, n), conditions (batch, 2) -> mean, log-variance (batch, latent)."""

    def __init__(self, hidden: int, global_size: int, layers: int, latent: int, conditions: int = 2):
        super().__init__()
        self.lift_in = linear(4 + conditions, hidden)
        self.lift_out = linear(hidden, hidden)
        self.global_in = linear(2 * hidden + conditions, hidden)
        self.global_out = linear(hidden, global_size)
        self.layers = nn.ModuleList(EPiCLayer(hidden, global_size, conditions, ENCODER_SUM_SCALE) for _ in range(layers))
        self.head = linear(2 * hidden + global_size, hidden)
        self.mean = linear(hidden, latent)
        self.log_variance = linear(hidden, latent)
        self.act = nn.LeakyReLU()

    def forward(self, x, mask, conditions):
        mask = mask.to(x.dtype)
        n = x.shape[1]
        h = self.act(self.lift_in(torch.cat([x, conditions[:, None].expand(-1, n, -1)], -1)))
        h = (self.act(self.lift_out(h)) + h) * mask[..., None]
        g = self.act(self.global_in(torch.cat([pool(h, mask, ENCODER_SUM_SCALE), conditions], -1)))
        g = self.act(self.global_out(g))
        for layer in self.layers:
            h, g = layer(h, g, conditions, mask)
        out = self.act(self.head(torch.cat([pool(h, mask, ENCODER_SUM_SCALE), g], -1)))
        return self.mean(out), self.log_variance(out)


class PointDenoiser(nn.Module):
    """eps(x_t, beta_t, context) for points (..., 4) and a per-point context (..., context)."""

    def __init__(self, hidden: tuple[int, ...], context: int):
        super().__init__()
        widths = (4, *hidden, 4)
        self.layers = nn.ModuleList(ConcatSquashLinear(a, b, 3 + context) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x, beta, context):
        c = torch.cat([beta[..., None], torch.sin(beta)[..., None], torch.cos(beta)[..., None], context], -1)
        out = x
        for k, layer in enumerate(self.layers):
            out = layer(out, c)
            if k < len(self.layers) - 1:
                out = F.leaky_relu(out)
        return x + out


class DDPMSchedule:
    """beta_t = (linspace(sqrt(beta_1), sqrt(beta_T), T))^2 for t = 1..T (the authors' 'quadratic')."""

    def __init__(self, steps: int, beta_1: float = 1e-4, beta_T: float = 0.02):
        self.steps = steps
        self.beta = torch.linspace(beta_1 ** 0.5, beta_T ** 0.5, steps) ** 2
        self.alpha_bar = torch.cumprod(1 - self.beta, 0)

    def posterior_sigma(self, t: int) -> float:
        """sigma~_t = sqrt(beta_t (1 - abar_{t-1}) / (1 - abar_t)): the noise of step t (flexibility 0)."""
        if t == 0:
            return 0.0
        return float((self.beta[t] * (1 - self.alpha_bar[t - 1]) / (1 - self.alpha_bar[t])).sqrt())


class CaloClouds(nn.Module):
    def __init__(self, hidden: tuple[int, ...], encoder_hidden: int, encoder_global: int, encoder_layers: int,
                 latent: int, flow_transforms: int, flow_hidden: tuple[int, ...], steps: int,
                 kl_weight: float = 1e-3, kl_floor: float = 1.0):
        super().__init__()
        self.encoder = EPiCEncoder(encoder_hidden, encoder_global, encoder_layers, latent)
        self.denoiser = PointDenoiser(hidden, latent + 2)
        self.latent_flow = zuko.flows.NSF(latent, context=2, transforms=flow_transforms, hidden_features=flow_hidden)
        self.schedule = DDPMSchedule(steps)
        self.kl_weight, self.kl_floor = kl_weight, kl_floor

    def losses(self, x, mask, conditions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(diffusion squared error, KL term, latent-flow NLL on the detached z) for a batch of
        padded showers: x (batch, n, 4), mask (batch, n), conditions (batch, 2)."""
        mean, log_variance = self.encoder(x, mask, conditions)
        z = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
        kl = 0.5 * (mean ** 2 + log_variance.exp() - log_variance - 1).sum(-1).mean()
        t = torch.randint(0, self.schedule.steps, (len(x),))
        abar = self.schedule.alpha_bar[t][:, None, None]
        eps = torch.randn_like(x)
        noisy = abar.sqrt() * x + (1 - abar).sqrt() * eps
        n = x.shape[1]
        context = torch.cat([z, conditions], -1)[:, None].expand(-1, n, -1)
        beta = self.schedule.beta[t][:, None].expand(-1, n)
        error = ((self.denoiser(noisy, beta, context) - eps) ** 2).sum(-1)
        weight = mask.to(x.dtype)
        diffusion = (error * weight).sum() / weight.sum() / x.shape[-1]
        flow_nll = -self.latent_flow(conditions).log_prob(z.detach()).mean()
        return diffusion, self.kl_weight * torch.clamp(kl, min=self.kl_floor), flow_nll

    @torch.no_grad()
    def sample(self, conditions: torch.Tensor, counts: list[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """Points (sum(counts), 4) in network space for showers with these conditions and sizes."""
        z = self.latent_flow(conditions).sample()
        context = torch.repeat_interleave(torch.cat([z, conditions], -1), torch.as_tensor(counts), 0)
        x = torch.randn(len(context), 4, generator=generator)
        s = self.schedule
        for t in range(s.steps - 1, -1, -1):
            beta = s.beta[t].expand(len(x))
            eps = self.denoiser(x, beta, context)
            x = (x - s.beta[t] / (1 - s.alpha_bar[t]).sqrt() * eps) / (1 - s.beta[t]).sqrt()
            if t > 0:
                x = x + s.posterior_sigma(t) * torch.randn(x.shape, generator=generator)
        return x
