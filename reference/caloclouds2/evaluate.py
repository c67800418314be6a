"""The paper's evaluation: W1 distances of the shower observables against the reference showers,
with bootstrap errors, a reference-vs-reference baseline (two halves of the data), and the
distributions as a plot."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..two_sample import classifier_auc as two_sample_auc
from .observables import SCALARS, WEIGHTED, Observables, distances_with_errors, shower_features

LABELS = {"n_hits": "hits", "energy_sum": "visible energy [GeV]", "cog_x": "centre x [mm]",
          "cog_y": "centre y [layer]", "cog_z": "centre z [mm]", "longitudinal": "layer (energy-weighted)",
          "radial": "radius to centre [mm] (energy-weighted)", "hit_energy": "hit energy [MeV]"}


def compare(ref: Observables, generated: dict[str, Observables], n_boot: int = 10, seed: int = 0) -> dict:
    """{name: {observable: {w1, error}}} for every generated sample and for half of the reference
    against its other half (the floor a perfect generator of this many showers reaches)."""
    half = ref.n_showers // 2
    table = {"reference halves": distances_with_errors(ref.subset(np.arange(half)),
                                                       ref.subset(np.arange(half, 2 * half)), n_boot, seed)}
    for name, obs in generated.items():
        table[name] = distances_with_errors(ref, obs, n_boot, seed)
    return table


def classifier_auc(ref: Observables, gen: Observables, seed: int = 0, epochs: int = 200) -> float:
    """The paper's kind of two-sample test (reference/two_sample.py) on the showers' high-level
    features (shower_features)."""
    return two_sample_auc(shower_features(ref), shower_features(gen), seed, epochs)


def plot(ref: Observables, generated: dict[str, Observables], path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(SCALARS) + list(WEIGHTED)
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    samples = {"reference": ref, **generated}
    for ax, key in zip(axes.flat, names):
        values = {n: _values(o, key) for n, o in samples.items()}
        lo = min(np.percentile(v[0], 0.5) for v in values.values() if len(v[0]))
        hi = max(np.percentile(v[0], 99.5) for v in values.values() if len(v[0]))
        if key == "hit_energy":
            bins = np.geomspace(max(lo, 1e-3), hi, 50)
        elif key == "longitudinal":
            bins = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0)
        else:
            bins = np.linspace(lo, hi, 50)
        for n, (v, w) in values.items():
            ax.hist(v, bins=bins, weights=w, histtype="step" if n != "reference" else "stepfilled",
                    alpha=0.35 if n == "reference" else 1.0, density=True, label=n)
        if key in ("hit_energy", "radial"):
            ax.set_yscale("log")
        if key == "hit_energy":
            ax.set_xscale("log")
        ax.set_xlabel(LABELS[key])
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _values(obs: Observables, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    if key in SCALARS:
        return obs.scalars[key], None
    if key == "longitudinal":
        return obs.hit_layer, obs.hit_energy
    if key == "radial":
        return obs.hit_radius, obs.hit_energy
    return 1e3 * obs.hit_energy, None
