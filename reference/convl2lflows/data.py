"""Dataset-3 showers as ConvL2LFlows learns them: the paper's preprocessing (its public configs,
causal.yaml and energy.yaml), in MeV.

A layer is an image of 18 radial rows and 50 angular columns (the angle last: the axis the U-Net
pads cyclically). The voxel flow's input, per batch: uniform noise in [0, NOISE_MEV) on every voxel
and, on empty voxels only, log-normal noise (median 10^EXTRA_NOISE_LOG10 MeV, EXTRA_NOISE_DEX
decades wide), both clipped at the readout threshold; then x / (the layer's largest training voxel +
MAX_FLOOR_MEV), clipped to [0, 1], log10(x + 1e-7) / 7 + 1 and a logit with alpha 1e-2. The
conditions: the incident energy as 2 log10(E / GeV) - 3 (-3 .. 3 over 1 GeV - 1 TeV) and the
layer's energy (the uniform-noise voxels above threshold, summed) as log10(E_layer / GeV + 1e-6)
+ 1, each broadcast to an image channel. Batches are rotated by a random number of angular bins
(the paper's random shift). The energy flow's input: the 45 layer energies plus Gaussian noise
(1e-3 +- 2e-4 MeV), in iCaloFlow's logit space (reference/icaloflow/data.py; the same form as the
paper's, with l1forge's 1e5 MeV scale).
"""
from __future__ import annotations

import numpy as np
import torch

from ..icaloflow.data import DS3, layer_energy_features

GRID = DS3
N_LAYERS, N_RADIAL, N_ALPHA = GRID.n_layers, GRID.n_radial, GRID.n_alpha
THRESHOLD_MEV = 1.515e-2  # the challenge's readout cut (the paper's 1.515e-5 GeV)
NOISE_MEV = 1e-3  # the paper's uniform noise, mean 5e-7 GeV
EXTRA_NOISE_LOG10, EXTRA_NOISE_DEX = -3.0, 0.2  # the paper's log-normal noise in empty voxels, 1e-6 GeV
MAX_FLOOR_MEV = 1e-3
LOG_FLOOR, LOG_DECADES, VOXEL_ALPHA = 1e-7, 7.0, 1e-2
ENERGY_NOISE_MEV = (1e-3, 2e-4)


def to_images(showers: np.ndarray) -> np.ndarray:
    """(N, 45, 900) in voxel-index order (alpha * 18 + r) -> (N, 45, 18, 50)."""
    return showers.reshape(len(showers), N_LAYERS, N_ALPHA, N_RADIAL).transpose(0, 1, 3, 2)


def from_images(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).reshape(len(images), N_LAYERS, N_ALPHA * N_RADIAL)


def incident_condition(energy_mev: torch.Tensor) -> torch.Tensor:
    return 2 * torch.log10(energy_mev / 1e3 + 1e-6) - 3


def layer_condition(layer_mev: torch.Tensor) -> torch.Tensor:
    return torch.log10(layer_mev / 1e3 + 1e-6) + 1


def _logit(u: torch.Tensor) -> torch.Tensor:
    u = VOXEL_ALPHA + (1 - 2 * VOXEL_ALPHA) * u
    return torch.log(u) - torch.log1p(-u)


class VoxelTransform:
    """MeV images <-> the voxel flows' space; `scale_mev` (45,): each layer's largest training voxel
    plus MAX_FLOOR_MEV."""

    def __init__(self, scale_mev):
        self.scale = torch.as_tensor(np.asarray(scale_mev), dtype=torch.float32)

    @classmethod
    def fit(cls, images: np.ndarray) -> "VoxelTransform":
        return cls(images.max(axis=(0, 2, 3)).astype(np.float64) + MAX_FLOOR_MEV)

    def forward(self, images_mev: torch.Tensor, layers: slice | int = slice(None)) -> torch.Tensor:
        """(B, L, 18, 50) MeV of layers `layers` -> features."""
        u = (images_mev / self.scale[layers].reshape(1, -1, 1, 1)).clamp(0.0, 1.0)
        return _logit(torch.log10(u + LOG_FLOOR) / LOG_DECADES + 1)

    def inverse(self, features: torch.Tensor, layers: slice | int = slice(None)) -> torch.Tensor:
        u = (torch.sigmoid(features) - VOXEL_ALPHA) / (1 - 2 * VOXEL_ALPHA)
        x = (10 ** ((u - 1) * LOG_DECADES) - LOG_FLOOR).clamp(min=0.0)
        return x * self.scale[layers].reshape(1, -1, 1, 1)


def noisy_batch(images_mev: torch.Tensor, generator: torch.Generator, shift: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The flow input (MeV, both noises) and the layer energies (B, L) MeV of a batch, rotated by a
    random number of angular bins when `shift`."""
    if shift:
        r = int(torch.randint(0, N_ALPHA, (), generator=generator))
        images_mev = torch.roll(images_mev, -r, dims=-1)
    uniform = (torch.rand(images_mev.shape, generator=generator) * NOISE_MEV).clamp(max=THRESHOLD_MEV)
    lognormal = 10 ** (EXTRA_NOISE_LOG10 + EXTRA_NOISE_DEX * torch.randn(images_mev.shape, generator=generator))
    read = images_mev + uniform
    layer_mev = torch.where(read < THRESHOLD_MEV, 0.0, read).sum((-2, -1))
    flow_input = read + lognormal.clamp(max=THRESHOLD_MEV) * (images_mev < 1e-8)
    return flow_input, layer_mev


def energy_features(layer_mev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Layer energies (N, 45) MeV plus the paper's Gaussian noise -> the energy flow's space."""
    noise = rng.normal(ENERGY_NOISE_MEV[0], ENERGY_NOISE_MEV[1], layer_mev.shape)
    return layer_energy_features(layer_mev + noise).astype(np.float32)


def readout(images_mev: np.ndarray) -> np.ndarray:
    """Generated voxels as the detector reads them: below THRESHOLD_MEV, zero."""
    return np.where(images_mev < THRESHOLD_MEV, 0.0, images_mev)


def renormalize(images_mev: np.ndarray, layer_mev: np.ndarray) -> np.ndarray:
    """The authors' optional post-processing (on in their ILD config, off in dataset 3's): each
    generated layer (..., 18, 50) is rescaled to the energy flow's layer energy (...), keeping the
    largest set of its brightest voxels that all stay above the threshold after the rescaling."""
    shape = images_mev.shape
    flat = images_mev.reshape(-1, shape[-2] * shape[-1])
    target = np.asarray(layer_mev, dtype=np.float64).reshape(-1)
    order = np.argsort(-flat, axis=1)
    ranked = np.take_along_axis(flat, order, 1)
    factor = target[:, None] / np.maximum(np.cumsum(ranked, 1), 1e-30)  # keeping the brightest k + 1
    keep = ((ranked * factor >= THRESHOLD_MEV) & (ranked > 0)).sum(1)  # the valid k form a prefix
    scale = np.where(keep > 0, factor[np.arange(len(flat)), np.maximum(keep - 1, 0)], 0.0)
    kept = np.arange(flat.shape[1])[None, :] < keep[:, None]
    out = np.zeros_like(flat, dtype=np.float64)
    np.put_along_axis(out, order, np.where(kept, ranked * scale[:, None], 0.0), 1)
    return out.reshape(shape)
