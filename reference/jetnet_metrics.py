"""The JetNet metrics of generated particle clouds (Kansal et al., arXiv 2106.11535; the `jetnet`
package's definitions), written here on our EFPs: jets are (jets, particles, 3) arrays of
(eta_rel, phi_rel, pT_rel) with a mask of the real particles.

- W1M: the 1-Wasserstein distance between the jets' relative masses (of the massless four-vectors'
  sum), W1P: between the particle features (real particles; one value per feature and their mean),
  W1EFP: between the prime EFPs with 4 vertices and 4 edges (kappa = beta = 1; 5 graphs), each as
  the mean and standard deviation over batches of jets drawn with replacement, as jetnet.
- FPD: the Frechet distance between the EFPs of degree 1-4 (35 graphs, prime and products; each
  scaled by its largest absolute value in the real jets), extrapolated to infinite sample size from
  batch sizes evenly spaced in 1/N (a straight-line fit with a non-negative slope and intercept,
  as jetnet; the intercept and its error).
- KPD: the unbiased kernel distance (MMD^2) with the polynomial kernel (x.y / d + 1)^4 on the same
  features, the median and half the 16-84 % spread over batches.
- KL: histogram KL divergences of the jet mass and the particle features, on 30 bins between the
  0.1 and 99.9 % quantiles of the real sample (the authors' evaluation code)."""
from __future__ import annotations

import itertools

import numpy as np
from scipy import linalg
from scipy.optimize import curve_fit
from scipy.stats import entropy, wasserstein_distance

from .efp import connected_multigraphs, efp_values
from .substructure import massless_p4

FEATURES = ("eta_rel", "phi_rel", "pT_rel")


def relative_mass(jets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """m / pT_jet of each cloud: the mass of the sum of its massless particles."""
    p = massless_p4(jets, mask).sum(1)
    return np.sqrt(np.maximum(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0.0))


def _efp_input(jets: np.ndarray) -> np.ndarray:
    return jets[..., [2, 0, 1]]  # (pT, eta, phi), the order efp_values takes


def w1_efp_graphs() -> list:
    return [g for g in connected_multigraphs(4) if 1 + max(max(e) for e in g) == 4]


def efps_to_degree_4(jets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """EFPs of every multigraph with 1-4 edges (35): the 20 connected ones, and the products of
    connected ones (a disconnected graph's EFP), each multiset of components once."""
    graphs = [g for d in range(1, 5) for g in connected_multigraphs(d)]
    values = efp_values(_efp_input(jets), mask, graphs)
    products = [np.prod(values[:, list(combo)], axis=1)
                for size in (2, 3, 4) for combo in itertools.combinations_with_replacement(range(len(graphs)), size)
                if sum(len(graphs[k]) for k in combo) <= 4]
    return np.concatenate([values, np.stack(products, 1)], 1)


def _batched_w1(real: np.ndarray, generated: np.ndarray, batch_size: int, n_batches: int, seed: int) -> np.ndarray:
    """(batches, columns) W1 between batches drawn with replacement from each sample."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_batches, real.shape[1]))
    for b in range(n_batches):
        r = real[rng.integers(0, len(real), batch_size)]
        g = generated[rng.integers(0, len(generated), batch_size)]
        out[b] = [wasserstein_distance(r[:, k], g[:, k]) for k in range(real.shape[1])]
    return out


def _spread(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "std": float(values.std())}


def w1_metrics(real: np.ndarray, real_mask: np.ndarray, generated: np.ndarray, generated_mask: np.ndarray,
               batch_size: int = 50_000, n_batches: int = 5, seed: int = 0) -> dict:
    """W1M, W1P (per feature and mean) and W1EFP as jetnet computes them (batch size capped at the
    smaller sample)."""
    batch_size = min(batch_size, len(real), len(generated))
    mass = _batched_w1(relative_mass(real, real_mask)[:, None], relative_mass(generated, generated_mask)[:, None],
                       batch_size, n_batches, seed)[:, 0]
    rng = np.random.default_rng(seed + 1)
    per_feature = np.empty((n_batches, 3))
    for b in range(n_batches):
        r = rng.integers(0, len(real), batch_size)
        g = rng.integers(0, len(generated), batch_size)
        for k in range(3):
            per_feature[b, k] = wasserstein_distance(real[r][real_mask[r]][:, k], generated[g][generated_mask[g]][:, k])
    graphs = w1_efp_graphs()
    efp = _batched_w1(efp_values(_efp_input(real), real_mask, graphs), efp_values(_efp_input(generated), generated_mask,
                                                                                 graphs), batch_size, n_batches, seed + 2)
    return {"W1M": _spread(mass), "W1P": _spread(per_feature.mean(1)),
            "W1P_per_feature": {name: _spread(per_feature[:, k]) for k, name in enumerate(FEATURES)},
            "W1EFP": _spread(efp.mean(1)), "batch_size": batch_size, "n_batches": n_batches}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two samples (rows: events)."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def fpd(real_features: np.ndarray, generated_features: np.ndarray, min_size: int, max_size: int,
        n_points: int = 10, n_batches: int = 20, seed: int = 0) -> dict:
    """The Frechet distance at batch sizes evenly spaced in 1/N between min_size and max_size,
    extrapolated to 1/N = 0 by a least-squares line; its error from the fit's covariance."""
    scale = np.abs(real_features).max(0)
    scale = np.where(scale > 0, scale, 1.0)
    a, b = real_features / scale, generated_features / scale
    rng = np.random.default_rng(seed)
    sizes = np.unique((1 / np.linspace(1 / min_size, 1 / max_size, n_points)).astype(int))
    values = np.array([np.mean([frechet_distance(a[rng.integers(0, len(a), n)], b[rng.integers(0, len(b), n)])
                                for _ in range(n_batches)]) for n in sizes])
    if len(sizes) < 3:  # too few distinct sizes to extrapolate: the plain mean
        return {"value": float(values.mean()), "error": float("nan"), "sizes": sizes.tolist()}
    (slope, value), covariance = curve_fit(lambda x, m, c: m * x + c, 1 / sizes, values,
                                           bounds=([0, 0], [np.inf, np.inf]))  # jetnet's: never negative
    return {"value": float(value), "error": float(np.sqrt(covariance[1, 1])), "sizes": sizes.tolist()}


def kpd(real_features: np.ndarray, generated_features: np.ndarray, batch_size: int = 5000, n_batches: int = 10,
        seed: int = 0) -> dict:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^4 over batches: the median and half the 16-84 %
    spread (features scaled as in fpd)."""
    scale = np.abs(real_features).max(0)
    scale = np.where(scale > 0, scale, 1.0)
    a, b = real_features / scale, generated_features / scale
    n = min(batch_size, len(a), len(b))
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_batches):
        x, y = a[rng.integers(0, len(a), n)], b[rng.integers(0, len(b), n)]
        kxx, kyy, kxy = ((u @ v.T / d + 1) ** 4 for u, v in ((x, x), (y, y), (x, y)))
        off = ~np.eye(n, dtype=bool)
        values.append(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())
    low, median, high = np.percentile(values, [16, 50, 84])
    return {"median": float(median), "error": float((high - low) / 2)}


def quantiled_kl(real: np.ndarray, generated: np.ndarray, bins: int = 30) -> float:
    """KL(real || generated) of histograms on `bins` bins between the real sample's 0.1 and 99.9 %
    quantiles, with 1e-8 added to every bin."""
    edges = np.quantile(real, np.linspace(0.001, 0.999, bins + 1))
    edges = np.unique(edges)
    p = np.histogram(real, edges)[0] / len(real) + 1e-8
    q = np.histogram(generated, edges)[0] / len(generated) + 1e-8
    return float(entropy(p, q))


def kl_metrics(real: np.ndarray, real_mask: np.ndarray, generated: np.ndarray, generated_mask: np.ndarray) -> dict:
    out = {"mass": quantiled_kl(relative_mass(real, real_mask), relative_mass(generated, generated_mask))}
    for k, name in enumerate(FEATURES):
        out[name] = quantiled_kl(real[real_mask][:, k], generated[generated_mask][:, k])
    return out
