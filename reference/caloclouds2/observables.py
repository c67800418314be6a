"""The paper's shower observables on the readout cells, and their Wasserstein-1 distances.

Points are summed into the calorimeter cells (layer, floor(x / cell), floor(z / cell)) and cells
below the readout threshold are dropped, as CaloClouds evaluates at the cell level. Per shower:
number of hits, visible energy, energy-weighted centre (x, layer, z); and the energy-weighted
distributions of the hit layer (longitudinal profile), of the hit distance to the shower's centre
(radial profile), and the hit energies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import wasserstein_distance

# ILD ECAL readout (the geometry l1forge's `ild` showers model): 5.09 mm cells, 0.1 MeV threshold.
ILD_CELL_MM = 5.0883331298828125
ILD_THRESHOLD_GEV = 1e-4
SCALARS = ("n_hits", "energy_sum", "cog_x", "cog_y", "cog_z")
WEIGHTED = ("longitudinal", "radial", "hit_energy")


@dataclass
class Observables:
    """Per-shower scalars (SCALARS) and per-hit arrays (layer, radius, energy, owning shower)."""
    scalars: dict[str, np.ndarray]
    hit_layer: np.ndarray
    hit_radius: np.ndarray
    hit_energy: np.ndarray
    hit_shower: np.ndarray

    @property
    def n_showers(self) -> int:
        return len(self.scalars["n_hits"])

    def subset(self, showers: np.ndarray) -> "Observables":
        """The observables of the given showers (indices may repeat: bootstrap)."""
        starts = np.searchsorted(self.hit_shower, np.arange(self.n_showers + 1))
        take = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in showers]) if len(showers) else np.zeros(0, int)
        owner = np.repeat(np.arange(len(showers)), [starts[i + 1] - starts[i] for i in showers])
        return Observables({k: v[showers] for k, v in self.scalars.items()}, self.hit_layer[take],
                           self.hit_radius[take], self.hit_energy[take], owner)


def cell_hits(points: np.ndarray, cell_mm: float, threshold_gev: float) -> np.ndarray:
    """(hits, 4) cells (x centre, layer, z centre, e) of one shower's points, above threshold."""
    if not len(points):
        return np.zeros((0, 4))
    layer = np.rint(points[:, 1]).astype(np.int64)
    ix = np.floor(points[:, 0] / cell_mm).astype(np.int64)
    iz = np.floor(points[:, 2] / cell_mm).astype(np.int64)
    keys, inverse = np.unique(np.stack([layer, ix, iz], 1), axis=0, return_inverse=True)
    energy = np.bincount(inverse.reshape(-1), weights=points[:, 3])
    keep = energy >= threshold_gev
    keys, energy = keys[keep], energy[keep]
    return np.stack([(keys[:, 1] + 0.5) * cell_mm, keys[:, 0], (keys[:, 2] + 0.5) * cell_mm, energy], 1)


def observables(showers: list[np.ndarray], cell_mm: float = ILD_CELL_MM,
                threshold_gev: float = ILD_THRESHOLD_GEV) -> Observables:
    scalars = {k: np.zeros(len(showers)) for k in SCALARS}
    layers, radii, energies, owners = [], [], [], []
    for i, s in enumerate(showers):
        hits = cell_hits(s, cell_mm, threshold_gev)
        e = hits[:, 3]
        total = e.sum()
        scalars["n_hits"][i], scalars["energy_sum"][i] = len(hits), total
        if total > 0:
            centre = (hits[:, :3] * e[:, None]).sum(0) / total
            scalars["cog_x"][i], scalars["cog_y"][i], scalars["cog_z"][i] = centre
            radii.append(np.hypot(hits[:, 0] - centre[0], hits[:, 2] - centre[2]))
        else:
            radii.append(np.zeros(0))
        layers.append(hits[:, 1])
        energies.append(e)
        owners.append(np.full(len(hits), i))
    return Observables(scalars, np.concatenate(layers), np.concatenate(radii), np.concatenate(energies),
                       np.concatenate(owners))


def distances(ref: Observables, gen: Observables) -> dict[str, float]:
    """W1 between reference and generated showers for every observable (the weighted ones: the
    energy-weighted layer and radius distributions; hit energies in MeV)."""
    out = {k: float(wasserstein_distance(ref.scalars[k], gen.scalars[k])) for k in SCALARS}
    out["longitudinal"] = float(wasserstein_distance(ref.hit_layer, gen.hit_layer, ref.hit_energy, gen.hit_energy))
    out["radial"] = float(wasserstein_distance(ref.hit_radius, gen.hit_radius, ref.hit_energy, gen.hit_energy))
    out["hit_energy"] = float(wasserstein_distance(1e3 * ref.hit_energy, 1e3 * gen.hit_energy))
    return out


def distances_with_errors(ref: Observables, gen: Observables, n_boot: int = 10, seed: int = 0) -> dict[str, dict]:
    """W1 per observable with the spread over bootstrap resamples of both samples' showers."""
    rng = np.random.default_rng(seed)
    central = distances(ref, gen)
    boots = [distances(ref.subset(rng.integers(0, ref.n_showers, ref.n_showers)),
                       gen.subset(rng.integers(0, gen.n_showers, gen.n_showers))) for _ in range(n_boot)]
    return {k: {"w1": v, "error": float(np.std([b[k] for b in boots]))} for k, v in central.items()}


RADIAL_EDGES_MM = (0.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 70.0, np.inf)


def shower_features(obs: Observables, n_layers: int = 30) -> np.ndarray:
    """Per shower, the classifier's high-level features: the scalars (hits as log), the fraction
    of the visible energy in each layer and in radial rings about the centre."""
    n = obs.n_showers
    total = np.maximum(obs.scalars["energy_sum"], 1e-12)[:, None]
    layer = np.clip(obs.hit_layer.astype(np.int64), 0, n_layers - 1)
    longitudinal = np.zeros((n, n_layers))
    np.add.at(longitudinal, (obs.hit_shower, layer), obs.hit_energy)
    ring = np.searchsorted(RADIAL_EDGES_MM, obs.hit_radius, side="right") - 1
    radial = np.zeros((n, len(RADIAL_EDGES_MM) - 1))
    np.add.at(radial, (obs.hit_shower, ring), obs.hit_energy)
    scalars = [np.log1p(obs.scalars["n_hits"])] + [obs.scalars[k] for k in SCALARS[1:]]
    return np.concatenate([np.stack(scalars, 1), longitudinal / total, radial / total], 1)
