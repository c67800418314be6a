"""The paper's evaluation of dataset-2 showers: layer-energy and voxel distributions, shower shapes
(energy-weighted centre and width per layer, in x and y of the voxel centres), their
Wasserstein-1 distances to the reference showers next to a reference-vs-reference floor (two halves
of the reference), and the classifier two-sample AUC on high-level features (the CaloChallenge's
"high-level" set: incident energy, layer energies, centres and widths per layer).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import wasserstein_distance

from ..two_sample import classifier_auc
from .data import DS2, N_LAYERS, VoxelGrid

SCALARS = {"e_ratio": "E_dep / E_inc", "hits": "voxels above threshold", "depth": "energy-weighted layer",
           "width_x_l20": "width x, layer 20 [mm]", "centre_x_l20": "centre x, layer 20 [mm]"}


@dataclass
class DatasetObservables:
    energy: np.ndarray  # (N,) MeV
    layer_mev: np.ndarray  # (N, 45)
    centre: np.ndarray  # (N, 45, 2) mm, 0 where a layer is empty
    width: np.ndarray  # (N, 45, 2) mm
    hits: np.ndarray  # (N,)
    voxel_mev: np.ndarray  # energies of all voxels above threshold
    voxel_shower: np.ndarray  # the shower (row) each of them belongs to

    @property
    def n_showers(self) -> int:
        return len(self.energy)

    def scalar(self, key: str) -> np.ndarray:
        if key == "e_ratio":
            return self.layer_mev.sum(1) / self.energy
        if key == "hits":
            return self.hits.astype(np.float64)
        if key == "depth":
            return (self.layer_mev * np.arange(N_LAYERS)).sum(1) / np.maximum(self.layer_mev.sum(1), 1e-12)
        axis = 0 if "_x" in key else 1
        return (self.width if key.startswith("width") else self.centre)[:, int(key.rsplit("l", 1)[1]), axis]

    def high_level(self) -> np.ndarray:
        """(N, 1 + 45 + 4 x 45) features of the classifier test."""
        return np.concatenate([np.log10(self.energy)[:, None], np.log10(self.layer_mev + 1e-3),
                               self.centre.reshape(self.n_showers, -1), self.width.reshape(self.n_showers, -1)], 1)

    def subset(self, index: np.ndarray) -> "DatasetObservables":
        """The showers of `index` (distinct rows), their voxels included."""
        index = np.asarray(index)
        new_row = np.full(self.n_showers, -1)
        new_row[index] = np.arange(len(index))
        keep = new_row[self.voxel_shower] >= 0
        return DatasetObservables(self.energy[index], self.layer_mev[index], self.centre[index], self.width[index],
                                  self.hits[index], self.voxel_mev[keep], new_row[self.voxel_shower[keep]])


def observables(energy: np.ndarray, showers: np.ndarray, grid: VoxelGrid = DS2) -> DatasetObservables:
    """Observables of showers (N, 45, voxels per layer) MeV of `grid` with incident energies (N,) MeV."""
    voxel_x, voxel_y = grid.voxel_xy()
    layer = showers.sum(2)
    safe = np.maximum(layer, 1e-12)[..., None]
    centre = np.stack([showers @ voxel_x, showers @ voxel_y], -1) / safe
    second = np.stack([showers @ voxel_x**2, showers @ voxel_y**2], -1) / safe
    width = np.sqrt(np.clip(second - centre**2, 0.0, None))
    hit = showers > 0
    return DatasetObservables(np.asarray(energy, dtype=np.float64), layer, centre, width, hit.sum((1, 2)),
                              showers[hit], np.nonzero(hit)[0])


def distances(ref: DatasetObservables, gen: DatasetObservables) -> dict:
    """W1 of the scalar observables, the mean W1 of the 45 layer energies (MeV), and the W1 of
    log10 voxel energies."""
    out = {key: float(wasserstein_distance(ref.scalar(key), gen.scalar(key))) for key in SCALARS}
    out["layer_mev_mean"] = float(np.mean([wasserstein_distance(ref.layer_mev[:, i], gen.layer_mev[:, i])
                                           for i in range(N_LAYERS)]))
    out["log_voxel_mev"] = float(wasserstein_distance(np.log10(ref.voxel_mev), np.log10(gen.voxel_mev)))
    return out


def compare(ref: DatasetObservables, generated: dict[str, DatasetObservables], seed: int = 0) -> dict:
    """{name: {W1 per observable..., classifier_auc}} with 'reference halves' first: the floor a
    perfect generator of half the reference's size reaches."""
    half = ref.n_showers // 2
    a, b = ref.subset(np.arange(half)), ref.subset(np.arange(half, 2 * half))
    table = {"reference halves": {**distances(a, b), "classifier_auc": classifier_auc(a.high_level(), b.high_level(), seed)}}
    for name, obs in generated.items():
        table[name] = {**distances(ref, obs), "classifier_auc": classifier_auc(ref.high_level(), obs.high_level(), seed)}
    return table


def plot(ref: DatasetObservables, generated: dict[str, DatasetObservables], path: str | Path) -> None:
    """Histograms of the observables, one panel each; and the mean longitudinal profile."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = {"reference": ref, **generated}
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    values = {
        "e_ratio": lambda o: o.scalar("e_ratio"), "hits": lambda o: o.scalar("hits"), "depth": lambda o: o.scalar("depth"),
        "centre_x": lambda o: o.centre[:, 20, 0], "width_x": lambda o: o.width[:, 20, 0],
        "voxel_mev": lambda o: np.log10(o.voxel_mev), "layer_20": lambda o: np.log10(o.layer_mev[:, 20] + 1e-3)}
    labels = {"e_ratio": "E_dep / E_inc", "hits": "voxels above threshold", "depth": "energy-weighted layer",
              "centre_x": "centre x, layer 20 [mm]", "width_x": "width x, layer 20 [mm]",
              "voxel_mev": "log10 voxel energy [MeV]", "layer_20": "log10 energy of layer 20 [MeV]"}
    for ax, key in zip(axes.flat, values):
        data = {n: values[key](o) for n, o in samples.items()}
        lo = min(np.percentile(v, 0.5) for v in data.values())
        hi = max(np.percentile(v, 99.5) for v in data.values())
        bins = np.linspace(lo, hi, 50)
        for n, v in data.items():
            ax.hist(v, bins=bins, density=True, histtype="stepfilled" if n == "reference" else "step",
                    alpha=0.35 if n == "reference" else 1.0, label=n)
        ax.set_xlabel(labels[key])
    ax = axes.flat[-1]
    for n, o in samples.items():
        ax.plot(np.arange(N_LAYERS), o.layer_mev.mean(0), label=n)
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("mean energy [MeV]")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

