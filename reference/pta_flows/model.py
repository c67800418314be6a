"""The parameters, their prior, the simulator and the exact likelihood of the array's data.

Parameters theta = (log10 A_gw, gamma_gw, then per pulsar log10 A_rn, gamma_rn): 2 + 2P numbers with
the paper's uniform priors (background: log10 A in [-18, -13], gamma in [1, 7]; red noise:
log10 A in [-19, -13], gamma in [1, 7]).

Data: per pulsar the projected residuals d_a = G_a^T r_a in units of the white-noise sigma, so
d = B c + n with n ~ N(0, I), B the block-diagonal projected Fourier bases and c ~ N(0, Phi): for
the coefficient k of pulsars a, b, Phi = Gamma_ab phi_gw,k + delta_ab phi_rn,a,k (zero between
different k). The exact marginal likelihood (the coefficients integrated out, Woodbury with Phi = R R^T):
  log L = -1/2 (d^T d - v^T A^-1 v) - 1/2 log det A - N/2 log 2 pi,  A = I + R^T B^T B R, v = R^T B^T d,
which the tests check against the dense Gaussian N(0, I + B Phi B^T)."""
from __future__ import annotations

import numpy as np

from .array import PulsarArray

GW_BOUNDS = ((-18.0, -13.0), (1.0, 7.0))
RN_BOUNDS = ((-19.0, -13.0), (1.0, 7.0))


def prior_bounds(n_pulsars: int) -> np.ndarray:
    """(2 + 2P, 2) lower and upper bounds."""
    return np.array(list(GW_BOUNDS) + list(RN_BOUNDS) * n_pulsars)


def parameter_names(array: PulsarArray) -> list[str]:
    return ["log10_A_gw", "gamma_gw"] + [f"{n}_{p}" for n in array.names for p in ("log10_A_rn", "gamma_rn")]


def draw_prior(n_pulsars: int, count: int, rng: np.random.Generator) -> np.ndarray:
    bounds = prior_bounds(n_pulsars)
    return rng.uniform(bounds[:, 0], bounds[:, 1], size=(count, len(bounds)))


def simulate(array: PulsarArray, theta: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Projected residuals per pulsar, (S, N_a - 3) each, for parameters theta (S, 2 + 2P)."""
    theta = np.atleast_2d(theta)
    count, p, k = len(theta), array.n_pulsars, 2 * array.n_freq
    phi_gw = array.phi(theta[:, 0], theta[:, 1])                                   # (S, K)
    phi_rn = array.phi(theta[:, 2::2], theta[:, 3::2])                              # (S, P, K)
    chol = np.linalg.cholesky(array.hd)
    c_gw = (rng.standard_normal((count, k, p)) @ chol.T) * np.sqrt(phi_gw)[:, :, None]
    c_rn = rng.standard_normal((count, p, k)) * np.sqrt(phi_rn)
    out = []
    for a, basis in enumerate(array.bases):
        coefficients = c_gw[:, :, a] + c_rn[:, a, :]
        out.append(coefficients @ basis.T + rng.standard_normal((count, basis.shape[0])))
    return out


class Likelihood:
    """log L(theta) of one data set (a list of the pulsars' projected residuals in sigma units)."""

    def __init__(self, array: PulsarArray, data: list[np.ndarray]):
        self.array = array
        p, k = array.n_pulsars, 2 * array.n_freq
        self.data_vector = np.concatenate(data)
        self.n = len(self.data_vector)
        self.dtd = float(sum(d @ d for d in data))
        self.btd = np.concatenate([b.T @ d for b, d in zip(array.bases, data)])
        self.btb = np.zeros((p * k, p * k))
        for a, b in enumerate(array.bases):
            self.btb[a * k:(a + 1) * k, a * k:(a + 1) * k] = b.T @ b
        self.index = np.arange(p)[None, :] * k + np.arange(k)[:, None]             # (K, P): row of (a, k)

    def __call__(self, theta: np.ndarray) -> float:
        theta = np.asarray(theta, dtype=np.float64)
        phi_gw = self.array.phi(theta[0], theta[1])                                 # (K,)
        phi_rn = self.array.phi(theta[2::2], theta[3::2])                           # (P, K)
        blocks = phi_gw[:, None, None] * self.array.hd[None] + np.einsum("pk,pq->kpq", phi_rn, np.eye(len(phi_rn)))
        try:
            chol = np.linalg.cholesky(blocks)
        except np.linalg.LinAlgError:
            return -np.inf
        # Phi = R R^T with R the frequencies' Cholesky factors in place; then C^-1 and det C follow
        # from I + R^T B^T B R, whose entries stay moderate however far the variances spread
        # (Phi^-1 itself reaches 1e16 and made LAPACK ~20x slower at loud red-noise points)
        root = np.zeros_like(self.btb)
        root[self.index[:, :, None], self.index[:, None, :]] = chol
        inner = root.T @ self.btb @ root
        inner[np.diag_indices_from(inner)] += 1.0
        try:
            chol_inner = np.linalg.cholesky(inner)
        except np.linalg.LinAlgError:
            return -np.inf
        w = np.linalg.solve(chol_inner, root.T @ self.btd)
        return float(-0.5 * (self.dtd - w @ w) - np.log(np.diagonal(chol_inner)).sum()
                     - 0.5 * self.n * np.log(2 * np.pi))

    def dense(self, theta: np.ndarray) -> float:
        """The same from the full covariance I + B Phi B^T (slow; for checking)."""
        from scipy.stats import multivariate_normal

        p, k = self.array.n_pulsars, 2 * self.array.n_freq
        phi_gw = self.array.phi(theta[0], theta[1])
        phi_rn = self.array.phi(theta[2::2], theta[3::2])
        phi = np.zeros((p * k, p * k))
        for j in range(k):
            phi[self.index[j][:, None], self.index[j][None, :]] = phi_gw[j] * self.array.hd + np.diag(phi_rn[:, j])
        b = np.zeros((self.n, p * k))
        row = 0
        for a, basis in enumerate(self.array.bases):
            b[row:row + len(basis), a * k:(a + 1) * k] = basis
            row += len(basis)
        return float(multivariate_normal(np.zeros(self.n), np.eye(self.n) + b @ phi @ b.T).logpdf(self.data_vector))
