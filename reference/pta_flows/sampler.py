"""The exact-likelihood posterior by adaptive Metropolis (Haario et al.): a Gaussian random walk
inside the prior box whose covariance is learnt from the chain (2.38^2 / D times the sample
covariance, updated every `adapt_every` steps during burn-in and then frozen, so the kept part is an
ordinary Metropolis chain). This stands in for the PTMCMC runs of the paper."""
from __future__ import annotations

import numpy as np


def adaptive_metropolis(log_likelihood, start: np.ndarray, bounds: np.ndarray, steps: int, burn_in: int,
                        seed: int, adapt_every: int = 500) -> tuple[np.ndarray, float]:
    """(kept samples (steps - burn_in, D), acceptance of the kept part)."""
    rng = np.random.default_rng(seed)
    dim = len(start)
    width = bounds[:, 1] - bounds[:, 0]
    cov = np.diag((0.02 * width) ** 2)
    x, logl = np.array(start, dtype=np.float64), log_likelihood(start)
    chain = np.empty((steps, dim))
    accepted = 0
    for i in range(steps):
        if i < burn_in and i >= adapt_every and i % adapt_every == 0:
            cov = 2.38 ** 2 / dim * np.cov(chain[i // 2:i].T) + 1e-8 * np.diag(width ** 2)
        proposal = rng.multivariate_normal(x, cov)
        if np.all(proposal > bounds[:, 0]) and np.all(proposal < bounds[:, 1]):
            new = log_likelihood(proposal)
            if np.log(rng.uniform()) < new - logl:
                x, logl = proposal, new
                accepted += i >= burn_in
        chain[i] = x
    return chain[burn_in:], accepted / max(1, steps - burn_in)
