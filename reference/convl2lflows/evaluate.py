"""The CaloChallenge's evaluation of dataset-3 showers, as the paper reports it: histograms of the
high-level features with their separation power, 0.5 sum_bins (p - q)^2 / (p + q) (0: the same
histogram, 1: disjoint), and two classifier two-sample AUCs: low-level (the voxels divided by the
incident energy, and log10 of it, not standardised: most voxels are rarely hit, and standardising
blows those up; with it, 120 showers against 120 rescaled by 1.5 score 0.47, without 0.95) and
high-level (incident energy, layer energies, centres and
widths per layer: iCaloFlow's set, reference/icaloflow/evaluate.py, which also gives the W1
distances). Each table has a "reference halves" row: the floor a perfect generator of half the
reference's size reaches.
"""
from __future__ import annotations

import numpy as np

from ..icaloflow.evaluate import DatasetObservables, compare, observables
from ..two_sample import classifier_auc
from .data import GRID, N_LAYERS

SEPARATION_BINS = 30
LOW_LEVEL_EPOCHS = 100  # full-batch epochs of the low-level classifier (40,501 inputs)


def separation_power(reference: np.ndarray, generated: np.ndarray, bins: int = SEPARATION_BINS) -> float:
    """The histograms' separation power on `bins` bins spanning the reference's 0.1-99.9 percentiles
    (values outside fall into the end bins)."""
    lo, hi = np.percentile(reference, [0.1, 99.9])
    if hi <= lo:
        hi = lo + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    p = np.histogram(np.clip(reference, lo, hi), edges)[0] / len(reference)
    q = np.histogram(np.clip(generated, lo, hi), edges)[0] / len(generated)
    both = p + q > 0
    return float(0.5 * ((p[both] - q[both]) ** 2 / (p[both] + q[both])).sum())


def separation_powers(ref: DatasetObservables, gen: DatasetObservables) -> dict:
    """Separation powers of E_dep / E_inc and the hit count, and the means over the 45 layers of
    those of log10 layer energy, centre (x, y) and width (x, y)."""
    def per_layer(values):
        return float(np.mean([separation_power(values(ref)[:, i], values(gen)[:, i]) for i in range(N_LAYERS)]))

    return {"sep_e_ratio": separation_power(ref.scalar("e_ratio"), gen.scalar("e_ratio")),
            "sep_hits": separation_power(ref.scalar("hits"), gen.scalar("hits")),
            "sep_layer_energy": per_layer(lambda o: np.log10(o.layer_mev + 1e-3)),
            "sep_centre": float(np.mean([per_layer(lambda o, a=a: o.centre[..., a]) for a in (0, 1)])),
            "sep_width": float(np.mean([per_layer(lambda o, a=a: o.width[..., a]) for a in (0, 1)]))}


def low_level(energy: np.ndarray, showers: np.ndarray) -> np.ndarray:
    return np.concatenate([np.log10(energy)[:, None], showers.reshape(len(showers), -1) / energy[:, None]], 1)


def evaluate(energy: np.ndarray, showers: np.ndarray, generated: dict[str, tuple[np.ndarray, np.ndarray]],
             seed: int = 0) -> tuple[dict, DatasetObservables, dict[str, DatasetObservables]]:
    """Reference showers (N, 45, 900) MeV at energies (N,) against {name: (energies, showers)}:
    (table {name: metrics}, the reference's observables, the generated ones')."""
    ref = observables(energy, showers, GRID)
    gen = {name: observables(e, s, GRID) for name, (e, s) in generated.items()}
    table = compare(ref, gen, seed)
    half = len(energy) // 2
    a, b = slice(0, half), slice(half, 2 * half)
    ref_low = low_level(energy, showers)
    rows = {"reference halves": (ref.subset(np.arange(half)), ref.subset(np.arange(half, 2 * half)),
                                 ref_low[a], ref_low[b])}
    for name, (e, s) in generated.items():
        rows[name] = (ref, gen[name], ref_low, low_level(e, s))
    for name, (r, g, r_low, g_low) in rows.items():
        table[name]["high_level_auc"] = table[name].pop("classifier_auc")
        table[name].update(separation_powers(r, g))
        table[name]["low_level_auc"] = classifier_auc(r_low, g_low, seed, epochs=LOW_LEVEL_EPOCHS, standardize=False)
    return table, ref, gen
