"""Generating showers layer by layer, as the paper: Flow-1 draws the 45 layer energies for each
incident energy, Flow-2 layer 0's normalised voxels, then Flow-3 each next layer from the one
before (which gets the training noise, is renormalised and logit-transformed first).

A sampler is `fn(flow, context) -> features` (float32 arrays); `teacher_sampler` inverts the MAFs
(one dimension at a time), `student_sampler` runs the IAF students (one pass per block, noise drawn
here). Other samplers (the quantized firmware student) plug in the same way.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .data import (N_LAYERS, NOISE_MEV, energy_condition, flow2_context, flow3_context, layer_energies_from_features,
                   voxel_features, voxels_from_features)
from .train import FEATURES, Run


def teacher_sampler(run: Run, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def sample(flow: int, context: np.ndarray) -> np.ndarray:
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))  # zuko draws from the global generator
        return run.teachers[flow](torch.from_numpy(context).float()).sample().numpy()
    return sample


def student_noise(gen: torch.Generator, n: int, flow: int) -> torch.Tensor:
    return torch.randn(n, FEATURES[flow], generator=gen)


def student_sampler(run: Run, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def sample(flow: int, context: np.ndarray) -> np.ndarray:
        c = torch.from_numpy(context).float()
        return run.students[flow](student_noise(gen, len(c), flow), c).numpy()
    return sample


def generate_showers(sampler, energy: np.ndarray, seed: int = 0, batch: int = 1000) -> tuple[np.ndarray, dict]:
    """(showers (N, 45, 144) MeV, seconds spent in each flow) for incident energies (N,) MeV."""
    rng = np.random.default_rng(seed)
    showers = np.zeros((len(energy), N_LAYERS, FEATURES[2]))
    seconds = {1: 0.0, 2: 0.0, 3: 0.0}

    def timed(flow, context):
        start = time.perf_counter()
        out = np.asarray(sampler(flow, context.astype(np.float32)), dtype=np.float64)
        seconds[flow] += time.perf_counter() - start
        return out

    for lo in range(0, len(energy), batch):
        e = np.asarray(energy[lo:lo + batch], dtype=np.float64)
        layers = timed(1, energy_condition(e)[:, None])
        layer_mev = layer_energies_from_features(layers)
        part = showers[lo:lo + batch]
        part[:, 0] = voxels_from_features(timed(2, flow2_context(e, layers[:, 0])), layer_mev[:, 0])
        for n in range(1, N_LAYERS):
            previous = voxel_features(part[:, n - 1] + rng.uniform(0.0, NOISE_MEV, part[:, n - 1].shape))
            context = flow3_context(e, layers[:, n], layers[:, n - 1], previous, np.full(len(e), n))
            part[:, n] = voxels_from_features(timed(3, context), layer_mev[:, n])
    return showers, seconds
