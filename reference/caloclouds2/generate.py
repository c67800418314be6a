"""Sampling a shower: ShowerFlow draws its make-up, the denoiser draws its points, and the points
are put in place as CaloClouds II does: sorted by their layer coordinate and dealt out to the
layers by the flow's per-layer counts, energies scaled to the flow's per-layer energies, the
energy-weighted centre moved to the flow's centre."""
from __future__ import annotations

import numpy as np
import torch

from .data import PointScaler, split_features
from .edm import Denoiser, sample_heun, sample_one_step
from .showerflow import ShowerFlow


def place_points(points: np.ndarray, layer_counts: np.ndarray, energy_share: np.ndarray, visible_gev: float,
                 centre: tuple[float, float]) -> np.ndarray:
    """Unscaled points (x, continuous layer, z, e) of one shower -> points on the layers (x, y =
    layer index, z, e GeV) with the flow's layer counts, layer energies and centre. Points dealt
    to a layer to which the flow gives no energy are dropped (they would carry none)."""
    out = points[np.argsort(points[:, 1], kind="stable")].copy()
    out[:, 1] = np.repeat(np.arange(len(layer_counts)), layer_counts)
    layer = out[:, 1].astype(np.int64)
    sums = np.bincount(layer, weights=out[:, 3], minlength=len(layer_counts))
    scale = np.divide(energy_share * visible_gev, sums, out=np.zeros_like(sums), where=sums > 0)
    out[:, 3] *= scale[layer]
    out = out[out[:, 3] > 0]
    total = out[:, 3].sum()
    if total > 0:
        out[:, 0] += centre[0] - (out[:, 0] * out[:, 3]).sum() / total
        out[:, 2] += centre[1] - (out[:, 2] * out[:, 3]).sum() / total
    return out.astype(np.float32)


def generate_showers(flow: ShowerFlow, denoiser: Denoiser, scaler: PointScaler, energy: np.ndarray, *,
                     one_step: bool, n_steps: int = 13, seed: int = 0, max_points: int = 200_000,
                     progress=None) -> list[np.ndarray]:
    """Showers for the given incident energies (GeV): (k, 4) points each. one_step: a consistency
    student's single evaluation; else Heun sampling with n_steps levels."""
    torch.manual_seed(seed)
    rows = flow.sample(np.asarray(energy, dtype=np.float64))
    made = [split_features(r) for r in rows]
    showers, start = [], 0
    while start < len(made):
        stop, total = start, 0
        while stop < len(made) and (stop == start or total + made[stop][0] <= max_points):
            total += made[stop][0]
            stop += 1
        counts = np.array([m[0] for m in made[start:stop]])
        context = np.repeat(scaler.context(np.asarray(energy[start:stop]), counts), counts, axis=0)
        noise, context = torch.randn(int(counts.sum()), 4), torch.from_numpy(context)
        x = sample_one_step(denoiser, noise, context) if one_step else sample_heun(denoiser, noise, context, n_steps)
        points = np.split(scaler.unscale(x.numpy().astype(np.float64)), np.cumsum(counts)[:-1])
        for p, (_, visible, centre, layer_counts, share) in zip(points, made[start:stop]):
            showers.append(place_points(p, layer_counts, share, visible, centre))
        if progress is not None:
            progress(stop - start)
        start = stop
    return showers
