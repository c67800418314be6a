"""The two generative objectives of the paper on one EPiC network (the authors' code):

EPiC-FM, conditional flow matching on the optimal-transport path: t ~ U(0, 1), t = 0 the data x,
t = 1 the noise z, y_t = (1 - t) x + (sigma_min + (1 - sigma_min) t) z, the network regresses the
velocity (1 - sigma_min) z - x (squared error over the real particles); sampling integrates the
ODE from t = 1 to 0 with the midpoint rule.

EPiC-JeDi, a variance-preserving diffusion with a cosine-like schedule: the angle theta(t) runs
linearly from acos(0.999) to acos(0.02), x_t = cos(theta) x + sin(theta) eps, the network predicts
eps (Huber loss, as the authors); beta(t) = 2 (theta_end - theta_start) tan(theta). Sampling runs
the reverse SDE with Euler-Maruyama (the authors' 200 steps), or its probability-flow ODE with the
midpoint rule."""
from __future__ import annotations

import math

import torch

from .network import EPiCNetwork

SIGMA_MIN = 1e-4
THETA_START, THETA_END = math.acos(0.999), math.acos(0.02)


def _masked_mean(error: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-particle error (batch, n, f) summed over features, averaged over the real particles."""
    return (error.sum(-1) * mask).sum() / mask.sum().clamp(min=1)


def _noise_like(x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype) * mask[..., None]


def _start(mask: torch.Tensor, jet: torch.Tensor, n_steps: int, features: int, generator: torch.Generator | None):
    """What a sampler begins with: the mask as numbers, masked noise at t = 1, and the times 1 -> 0."""
    mask = mask.to(jet.dtype)
    y = _noise_like(torch.empty(*mask.shape, features, dtype=jet.dtype), mask, generator)
    return mask, y, torch.linspace(1.0, 0.0, n_steps + 1, dtype=jet.dtype)


def _midpoint_step(drift, y: torch.Tensor, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One midpoint-rule step of dy/dt = drift(y, t) from t to t + h."""
    return y + h * drift(y + 0.5 * h * drift(y, t), t + 0.5 * h)


class FlowMatching:
    name = "EPiC-FM"

    def __init__(self, network: EPiCNetwork):
        self.network = network

    def loss(self, x: torch.Tensor, mask: torch.Tensor, jet: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        t = torch.rand(len(x), dtype=x.dtype)
        z = _noise_like(x, mask)
        tt = t[:, None, None]
        y = (1 - tt) * x + (SIGMA_MIN + (1 - SIGMA_MIN) * tt) * z
        target = (1 - SIGMA_MIN) * z - x
        return _masked_mean((self.network(y, mask, t, jet) - target) ** 2, mask)

    @torch.no_grad()
    def sample(self, mask: torch.Tensor, jet: torch.Tensor, n_steps: int, features: int = 3,
               generator: torch.Generator | None = None) -> torch.Tensor:
        mask, y, times = _start(mask, jet, n_steps, features, generator)

        def velocity(x, t):
            return self.network(x, mask, t.expand(len(x)), jet)

        for t, t_next in zip(times[:-1], times[1:]):
            y = _midpoint_step(velocity, y, t, t_next - t)
        return y * mask[..., None]


def _theta(t: torch.Tensor) -> torch.Tensor:
    return THETA_START + t * (THETA_END - THETA_START)


def _beta(t: torch.Tensor) -> torch.Tensor:
    return 2 * (THETA_END - THETA_START) * torch.tan(_theta(t))


class Diffusion:
    name = "EPiC-JeDi"

    def __init__(self, network: EPiCNetwork):
        self.network = network

    def loss(self, x: torch.Tensor, mask: torch.Tensor, jet: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        t = torch.rand(len(x), dtype=x.dtype)
        eps = _noise_like(x, mask)
        theta = _theta(t)[:, None, None]
        noisy = torch.cos(theta) * x + torch.sin(theta) * eps
        error = torch.nn.functional.huber_loss(self.network(noisy, mask, t, jet), eps, reduction="none")
        return _masked_mean(error, mask)

    def _score_term(self, y, mask, t, jet) -> torch.Tensor:
        """eps_hat / sigma_noise: minus the score."""
        return self.network(y, mask, t.expand(len(y)), jet) / torch.sin(_theta(t))

    @torch.no_grad()
    def sample(self, mask: torch.Tensor, jet: torch.Tensor, n_steps: int, features: int = 3,
               generator: torch.Generator | None = None, solver: str = "em") -> torch.Tensor:
        """Euler-Maruyama on the reverse SDE dx = [-beta x / 2 - beta score] dt + sqrt(beta) dW
        (solver 'em'), or the midpoint rule on the probability-flow ODE dx/dt = -beta (x + score) / 2
        ('midpoint'); from t = 1 to 0, no noise on the last step."""
        mask, y, times = _start(mask, jet, n_steps, features, generator)

        def drift(x, t):  # dx/dt of the probability-flow ODE
            return -0.5 * _beta(t) * (x - self._score_term(x, mask, t, jet))

        for k, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
            h = t_next - t  # negative
            if solver == "midpoint":
                y = _midpoint_step(drift, y, t, h)
            elif solver == "em":
                beta = _beta(t)
                y = y - h * (0.5 * beta * y - beta * self._score_term(y, mask, t, jet))
                if k < n_steps - 1:
                    y = y + torch.sqrt(-h * beta) * _noise_like(y, mask, generator)
            else:
                raise ValueError(f"unknown solver {solver!r}; choose em or midpoint")
        return y * mask[..., None]
