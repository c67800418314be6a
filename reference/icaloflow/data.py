"""CaloChallenge dataset-2 showers and the representations iCaloFlow's three flows learn.

Reads the CaloChallenge layout (`l1forge data showers --geometry ds2` writes it; the challenge's
public files use it): `incident_energies` (N, 1) and `showers` (N, 6480) in MeV, voxel index
layer * 144 + alpha * 9 + r (45 layers, 16 angular x 9 radial bins of 4.65 mm). This package
reads the file itself (h5py): the references depend on nothing of l1forge. `VoxelGrid` describes
the layout (DS2; DS3, the 50 x 18 bins of 2.325 mm that ConvL2LFlows reads).

The preprocessing is the paper's (its public code, data.py): energies get uniform noise in
[0, NOISE_MEV) before anything else; layer energies are divided by LAYER_SCALE_MEV and
logit-transformed, logit(ALPHA + (1 - 2 ALPHA) u); each layer's voxels are divided by their (noisy)
sum and logit-transformed the same way. (The paper's layer scale, 6.5e4 MeV, is just above the
public file's largest layer energy, 64,173 MeV; l1forge's parametric showers put up to ~79,000 MeV
into one layer at 1 TeV, so the scale here is 1e5 MeV.) The conditions:
  - Flow-1 (45 layer energies): log10(E_inc / MeV) - 4.5;
  - Flow-2 (layer 0's voxels): that, and the logit of layer 0's energy / 4;
  - Flow-3 (layer n's voxels, n = 1..44): that log energy, the logits of E_n and E_{n-1}, layer
    n-1's 144 preprocessed voxels and a one-hot of n-1 (44): 191 numbers.
Generated energies below THRESHOLD_MEV (the challenge's 0.5 keV readout cut / 0.033) are zeroed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..files import DataError, open_hdf5


@dataclass(frozen=True)
class VoxelGrid:
    """A CaloChallenge voxel layout: 45 layers of n_alpha x n_radial voxels, index
    layer * (n_alpha n_radial) + alpha * n_radial + r; `geometry` is `l1forge data showers`' name."""
    name: str
    geometry: str
    n_alpha: int
    n_radial: int
    r_bin_mm: float
    n_layers: int = 45

    @property
    def voxels_per_layer(self) -> int:
        return self.n_alpha * self.n_radial

    @property
    def r_edges_mm(self) -> np.ndarray:
        return np.arange(self.n_radial + 1) * self.r_bin_mm

    def voxel_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y (mm) of the voxel centres of one layer, in voxel-index order."""
        r_mid = (self.r_edges_mm[1:] + self.r_edges_mm[:-1]) / 2
        angle = (np.arange(self.n_alpha) + 0.5) * 2 * np.pi / self.n_alpha
        return ((np.cos(angle)[:, None] * r_mid[None, :]).reshape(-1),
                (np.sin(angle)[:, None] * r_mid[None, :]).reshape(-1))


DS2 = VoxelGrid("dataset 2", "ds2", 16, 9, 4.65)
DS3 = VoxelGrid("dataset 3", "ds3", 50, 18, 2.325)
N_LAYERS, N_ALPHA, N_RADIAL = DS2.n_layers, DS2.n_alpha, DS2.n_radial
VOXELS_PER_LAYER = DS2.voxels_per_layer
R_EDGES_MM = DS2.r_edges_mm
NOISE_MEV = 5e-3
LAYER_SCALE_MEV = 1e5
ALPHA = 1e-6
THRESHOLD_MEV = 1.5e-2
LOG_ENERGY_SHIFT = 4.5
FLOW3_CONTEXT = 3 + VOXELS_PER_LAYER + (N_LAYERS - 1)  # 191


def read_showers(path: str | Path, limit: int | None = None, grid: VoxelGrid = DS2) -> tuple[np.ndarray, np.ndarray]:
    """(incident energies (N,) MeV, showers (N, 45, voxels per layer) MeV) of a file of `grid`'s layout."""
    path = Path(path)
    f = open_hdf5(path, "shower")
    with f:
        if "incident_energies" not in f or "showers" not in f:
            raise DataError(f"{path}: expected the CaloChallenge layout ('incident_energies' (N, 1), 'showers' (N, voxels))")
        n = len(f["incident_energies"]) if limit is None else min(limit, len(f["incident_energies"]))
        energy = np.asarray(f["incident_energies"][:n], dtype=np.float64).reshape(-1)
        showers = np.asarray(f["showers"][:n], dtype=np.float64)
    if showers.ndim != 2 or showers.shape[1] != grid.n_layers * grid.voxels_per_layer:
        raise DataError(f"{path}: 'showers' has shape {showers.shape}, expected (N, {grid.n_layers * grid.voxels_per_layer}) "
                        f"(CaloChallenge {grid.name}; `l1forge data showers --geometry {grid.geometry}`)")
    if not len(energy):
        raise DataError(f"{path}: the file holds no showers")
    return energy, showers.reshape(n, grid.n_layers, grid.voxels_per_layer)


def write_showers(path: str | Path, energy: np.ndarray, showers: np.ndarray) -> None:
    """Write showers (N, 45, voxels per layer) MeV in the CaloChallenge layout, atomically."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("incident_energies", data=np.asarray(energy, dtype=np.float32).reshape(-1, 1))
        f.create_dataset("showers", data=np.asarray(showers, dtype=np.float32).reshape(len(showers), -1),
                         compression="gzip", shuffle=True)
    tmp.replace(path)


def logit(u: np.ndarray) -> np.ndarray:
    u = ALPHA + (1 - 2 * ALPHA) * u
    return np.log(u) - np.log1p(-u)


def inverse_logit(v: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-v)) - ALPHA) / (1 - 2 * ALPHA)


def energy_condition(energy: np.ndarray) -> np.ndarray:
    return np.log10(energy) - LOG_ENERGY_SHIFT


def layer_energy_features(layer_mev: np.ndarray) -> np.ndarray:
    """Noisy layer energies (N, 45) MeV -> Flow-1's space."""
    if layer_mev.max(initial=0.0) >= LAYER_SCALE_MEV:
        raise DataError(f"a layer holds {layer_mev.max():.0f} MeV, above the scale {LAYER_SCALE_MEV:.0f} MeV "
                        "(dataset-2 showers of at most 1 TeV stay below it)")
    return logit(layer_mev / LAYER_SCALE_MEV)


def layer_energies_from_features(features: np.ndarray) -> np.ndarray:
    e = np.clip(inverse_logit(features), 0.0, 1.0) * LAYER_SCALE_MEV
    return np.where(e < THRESHOLD_MEV, 0.0, e)


def voxel_features(layer_voxels: np.ndarray) -> np.ndarray:
    """Noisy voxels of one layer (..., 144) MeV -> normalised by their sum, logit."""
    total = layer_voxels.sum(-1, keepdims=True)
    return logit(layer_voxels / total)


def voxels_from_features(features: np.ndarray, layer_mev: np.ndarray) -> np.ndarray:
    """Flow-2/3 samples (..., 144) and the layer energies (...) MeV -> voxels in MeV, cut."""
    u = np.clip(inverse_logit(features), 0.0, None)
    u = u / np.maximum(u.sum(-1, keepdims=True), 1e-30)
    e = u * layer_mev[..., None]
    return np.where(e < THRESHOLD_MEV, 0.0, e)


def flow2_context(energy: np.ndarray, layer0_features: np.ndarray) -> np.ndarray:
    return np.stack([energy_condition(energy), layer0_features / 4], 1)


def flow3_context(energy: np.ndarray, e_now: np.ndarray, e_before: np.ndarray, previous: np.ndarray,
                  layer: np.ndarray) -> np.ndarray:
    """(M, 191): log energy, logits of E_n and E_{n-1} (Flow-1 space), layer n-1's voxel features,
    one-hot of n-1."""
    one_hot = np.zeros((len(layer), N_LAYERS - 1))
    one_hot[np.arange(len(layer)), layer - 1] = 1.0
    return np.concatenate([energy_condition(energy)[:, None], e_now[:, None], e_before[:, None], previous, one_hot], 1)


class Prepared:
    """The three flows' training sets of a shower file, one noise draw (float32)."""

    def __init__(self, energy: np.ndarray, showers: np.ndarray, rng: np.random.Generator):
        noisy = showers + rng.uniform(0.0, NOISE_MEV, showers.shape)
        layer_mev = noisy.sum(-1)
        self.energy = energy
        self.layers = layer_energy_features(layer_mev)  # (N, 45)
        self.voxels = voxel_features(noisy)  # (N, 45, 144)
        self.flow1 = (self.layers, energy_condition(energy)[:, None])
        self.flow2 = (self.voxels[:, 0], flow2_context(energy, self.layers[:, 0]))
        n = len(energy)
        layer = np.tile(np.arange(1, N_LAYERS), n)
        shower = np.repeat(np.arange(n), N_LAYERS - 1)
        self.flow3 = (self.voxels[shower, layer],
                      flow3_context(energy[shower], self.layers[shower, layer], self.layers[shower, layer - 1],
                                    self.voxels[shower, layer - 1], layer))

    def arrays(self, flow: int) -> tuple[np.ndarray, np.ndarray]:
        x, c = getattr(self, f"flow{flow}")
        return x.astype(np.float32), c.astype(np.float32)
