"""Dataset 2's coarse voxelisation and SuperCalo's representations (the authors' code,
Ian-Pang/supercalo).

A coarse voxel is 5 fine layers x 2 angular bins x 1 radial bin: 9 coarse layers x 9 radial x 8
angular = 648, ordered (coarse layer, r, alpha) with alpha fastest; inside one, fine voxel k = 2 l +
a for fine layer 5 Z + l and fine angle 2 A + a. The upsampling flow learns the 10 fine energies
over the coarse energy through a logit; its 31 conditions: log10(E_inc) - 4.5, the logits of the 5
fine layer energies / LAYER_SCALE, the logit of the coarse energy / COARSE_SCALE, the same for the 6
neighbours (r inward, r outward, the coarse layers before and after: zero beyond the edges; alpha -1
and +1: cyclic), and one-hots of the radial index (9) and the coarse layer (9)."""
from __future__ import annotations

import numpy as np

from ..icaloflow.data import LAYER_SCALE_MEV, N_ALPHA, N_LAYERS, N_RADIAL, energy_condition, logit

FINE_LAYERS, FINE_ALPHA = 5, 2
COARSE_LAYERS, COARSE_ALPHA = N_LAYERS // FINE_LAYERS, N_ALPHA // FINE_ALPHA  # 9, 8
N_COARSE = COARSE_LAYERS * N_RADIAL * COARSE_ALPHA  # 648
FINE_PER_COARSE = FINE_LAYERS * FINE_ALPHA  # 10
N_CONDITIONS = 1 + FINE_LAYERS + 1 + 6 + N_RADIAL + COARSE_LAYERS  # 31
# The authors divide coarse energies by 28,048 MeV (just above their largest); l1forge's parametric
# 1 TeV electrons put up to ~45 GeV into one coarse voxel, so the scale here is 6e4 MeV.
COARSE_SCALE_MEV = 6e4


def fine_groups(showers: np.ndarray) -> np.ndarray:
    """(N, 45, 144) -> (N, 648, 10): the fine voxels of each coarse voxel."""
    n = len(showers)
    x = showers.reshape(n, COARSE_LAYERS, FINE_LAYERS, COARSE_ALPHA, FINE_ALPHA, N_RADIAL)
    return x.transpose(0, 1, 5, 3, 2, 4).reshape(n, N_COARSE, FINE_PER_COARSE)


def assemble(groups: np.ndarray) -> np.ndarray:
    """(N, 648, 10) -> (N, 45, 144): the inverse of fine_groups."""
    n = len(groups)
    x = groups.reshape(n, COARSE_LAYERS, N_RADIAL, COARSE_ALPHA, FINE_LAYERS, FINE_ALPHA)
    return x.transpose(0, 1, 4, 3, 5, 2).reshape(n, N_LAYERS, N_ALPHA * N_RADIAL)


def coarsen(showers: np.ndarray) -> np.ndarray:
    """(N, 45, 144) -> (N, 648) coarse voxel energies."""
    return fine_groups(showers).sum(-1)


def coarse_features(coarse_mev: np.ndarray) -> np.ndarray:
    return logit(np.clip(coarse_mev / COARSE_SCALE_MEV, 0.0, 1.0))


def neighbours(coarse_mev: np.ndarray) -> np.ndarray:
    """(N, 648) -> (N, 648, 6): r inward, r outward, layer before, layer after (zero beyond the
    edges), alpha - 1, alpha + 1 (cyclic)."""
    grid = coarse_mev.reshape(-1, COARSE_LAYERS, N_RADIAL, COARSE_ALPHA)
    pad = np.pad(grid, ((0, 0), (1, 1), (1, 1), (0, 0)))
    inner, outer = pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]
    before, after = pad[:, :-2, 1:-1], pad[:, 2:, 1:-1]
    left, right = np.roll(grid, 1, axis=3), np.roll(grid, -1, axis=3)
    return np.stack([inner, outer, before, after, left, right], -1).reshape(len(grid), N_COARSE, 6)


def conditions(energy: np.ndarray, layer_mev: np.ndarray, coarse_mev: np.ndarray) -> np.ndarray:
    """(N, 648, 31) float32 conditions of every coarse voxel of N showers (energies in MeV; layer_mev
    (N, 45) the fine layer energies)."""
    n = len(energy)
    layer_index = np.repeat(np.arange(COARSE_LAYERS), N_RADIAL * COARSE_ALPHA)
    radial_index = np.tile(np.repeat(np.arange(N_RADIAL), COARSE_ALPHA), COARSE_LAYERS)
    layers = logit(np.clip(layer_mev / LAYER_SCALE_MEV, 0.0, 1.0)).reshape(n, COARSE_LAYERS, FINE_LAYERS)
    out = np.empty((n, N_COARSE, N_CONDITIONS), dtype=np.float32)  # filled in place: (70k, 648, 31) is 5.6 GB
    out[..., 0] = energy_condition(energy)[:, None]
    out[..., 1:6] = layers[:, layer_index]
    out[..., 6] = coarse_features(coarse_mev)
    out[..., 7:13] = coarse_features(neighbours(coarse_mev))
    out[..., 13:22] = np.eye(N_RADIAL, dtype=np.float32)[radial_index]
    out[..., 22:31] = np.eye(COARSE_LAYERS, dtype=np.float32)[layer_index]
    return out


def fine_fractions(groups: np.ndarray) -> np.ndarray:
    """(..., 10) fine energies -> logits of their fractions of the coarse energy."""
    total = np.maximum(groups.sum(-1, keepdims=True), 1e-30)
    return logit(groups / total)
