"""A minimal pulsar timing array, written here from the standard model (the conventions of the
NANOGrav analysis code enterprise, as the paper's public code uses them).

- Pulsars: the ten of the paper (the most sensitive NANOGrav 12.5-year pulsars), their sky
  positions read from their J-names (right ascension hhmm, declination +-ddmm: within a degree of
  the catalogue); times of arrival spread over the span, seeded.
- Timing model: a quadratic spin-down per pulsar, M = [1, t, t^2]; the data are the residuals
  projected onto the complement of M (G: the last N - 3 left singular vectors of M), which removes
  whatever the timing model can absorb.
- Noise: white, sigma per TOA (the paper: 100 ns); per-pulsar red noise and the background, each a
  Fourier series at f_k = k / T (k = 1..n_freq, sine and cosine) with power-law variances
  phi_k = yr^2 A^2 / (12 pi^2) f_k^-gamma df (f in 1/yr, df = 1/T, yr in seconds: residuals in s).
- The background's coefficients are correlated between pulsars a, b by the Hellings-Downs curve
  Gamma_ab = 1.5 x ln x - x / 4 + 1/2 (+ 1/2 for a = b: the pulsar term), x = (1 - cos theta_ab) / 2.
Everything downstream works in units of the white-noise sigma (data / sigma, variances / sigma^2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

YEAR_S = 365.25 * 86400.0
PAPER_PULSARS = ("J1909-3744", "J2317+1439", "J2043+1711", "J1600-3053", "J1918-0642", "J0613-0200",
                 "J1944+0907", "J1744-1134", "J1910+1256", "J0030+0451")
# TOAs per pulsar in the paper's data (its projected lengths + 3).
PAPER_TOAS = (408, 447, 302, 236, 262, 278, 136, 268, 170, 463)


def sky_direction(name: str) -> np.ndarray:
    """Unit vector of a pulsar from its J-name (Jhhmm+ddmm)."""
    ra = (int(name[1:3]) + int(name[3:5]) / 60) * np.pi / 12
    sign = -1.0 if name[5] == "-" else 1.0
    dec = sign * (int(name[6:8]) + int(name[8:10]) / 60) * np.pi / 180
    return np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def hellings_downs(directions: np.ndarray) -> np.ndarray:
    """The (P, P) overlap reduction matrix, 1 on the diagonal."""
    cos = np.clip(directions @ directions.T, -1.0, 1.0)
    x = (1 - cos) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = 1.5 * x * np.log(x) - x / 4 + 0.5
    gamma[x == 0] = 0.5
    return gamma + 0.5 * np.eye(len(directions))


@dataclass
class PulsarArray:
    names: tuple[str, ...]
    toas: list[np.ndarray]       # per pulsar, years from the start
    span_years: float
    n_freq: int
    sigma_s: float               # white noise per TOA, seconds
    hd: np.ndarray               # (P, P)
    projectors: list[np.ndarray]  # per pulsar G (N, N - 3)
    bases: list[np.ndarray]      # per pulsar G^T F (N - 3, 2 n_freq)

    @property
    def n_pulsars(self) -> int:
        return len(self.names)

    @property
    def lengths(self) -> list[int]:
        return [b.shape[0] for b in self.bases]

    def frequencies(self) -> np.ndarray:
        """f_k in 1/yr, k = 1..n_freq."""
        return np.arange(1, self.n_freq + 1) / self.span_years

    def phi(self, log10_a: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """Power-law variances per coefficient (..., 2 n_freq) in sigma^2 units; the sine and cosine
        of a frequency share one (columns are [sin f_1, cos f_1, sin f_2, ...])."""
        f = self.frequencies()
        a = np.asarray(log10_a, dtype=np.float64)[..., None]
        g = np.asarray(gamma, dtype=np.float64)[..., None]
        per_freq = YEAR_S ** 2 * 10.0 ** (2 * a) / (12 * np.pi ** 2) * f ** (-g) / self.span_years
        return np.repeat(per_freq, 2, axis=-1) / self.sigma_s ** 2


def build_array(n_toas=PAPER_TOAS, names=PAPER_PULSARS, span_years: float = 12.5, n_freq: int = 30,
                sigma_s: float = 1e-7, seed: int = 0) -> PulsarArray:
    """The array: TOAs uniform over the span (sorted, seeded), projectors and projected bases."""
    if len(n_toas) != len(names) or min(n_toas) < 4:
        raise ValueError("need one TOA count (at least 4) per pulsar")
    rng = np.random.default_rng(seed)
    toas, projectors, bases = [], [], []
    freqs = np.arange(1, n_freq + 1) / span_years
    for n in n_toas:
        t = np.sort(rng.uniform(0.0, span_years, n))
        scaled = t / span_years
        design = np.stack([np.ones(n), scaled, scaled ** 2], axis=1)
        u, _, _ = np.linalg.svd(design, full_matrices=True)
        g = u[:, 3:]
        fourier = np.empty((n, 2 * n_freq))
        fourier[:, 0::2] = np.sin(2 * np.pi * freqs[None, :] * t[:, None])
        fourier[:, 1::2] = np.cos(2 * np.pi * freqs[None, :] * t[:, None])
        toas.append(t)
        projectors.append(g)
        bases.append(g.T @ fourier)
    directions = np.stack([sky_direction(n) for n in names])
    return PulsarArray(tuple(names), toas, span_years, n_freq, sigma_s, hellings_downs(directions), projectors, bases)
