"""What the calibration sees of a shower: its energy in a few depth segments, as the authors'
calorimeter has six layers (their x: the six layer energies, as 2 (log10(E_layer / MeV) - 1)).
Dataset-2-like showers have 45 thin layers; here they are summed into `segments` consecutive groups
of (nearly) equal depth, with the uniform noise iCaloFlow adds before taking logarithms (so empty
segments stay finite)."""
from __future__ import annotations

import numpy as np

from ..icaloflow.data import NOISE_MEV, read_showers

REFERENCE_GEV = 10.0


def energy_condition(energy_gev: np.ndarray) -> np.ndarray:
    """The flow's condition: log10(E / 10 GeV)."""
    return np.log10(np.asarray(energy_gev, dtype=np.float64) / REFERENCE_GEV)


def segment_features(showers_mev: np.ndarray, segments: int, rng: np.random.Generator) -> np.ndarray:
    """(N, segments) = 2 (log10(segment energy / MeV + noise) - 1) of showers (N, layers, voxels)."""
    layers = showers_mev.sum(2)
    groups = np.array_split(np.arange(layers.shape[1]), segments)
    sums = np.stack([layers[:, g].sum(1) for g in groups], 1)
    return 2 * (np.log10(sums + rng.uniform(0, NOISE_MEV, sums.shape)) - 1)


def read_calibration_set(path, segments: int, seed: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(incident energies (N,) GeV, features (N, segments)) of a dataset-2-like file."""
    energy_mev, showers = read_showers(path, limit)
    return energy_mev / 1e3, segment_features(showers, segments, np.random.default_rng(seed))
