"""SuperCalo's training and evaluation on a dataset-2 file: the first part of the showers trains
Flow-1 (45 layer energies | E_inc), Flow-2 (648 coarse voxels | E_inc, 9 coarse layer energies) and
the upsampling flow; the rest is the test set. Evaluated on it, with iCaloFlow's observables and
high-level classifier AUC (reference/icaloflow/evaluate.py):
- "SuperCalo on true coarse": the test showers' own coarse voxels upsampled;
- "uniform upsampling": each coarse energy spread evenly over its 10 fine voxels (the floor a
  super-resolution must beat);
- "full chain": Flow-1 -> Flow-2 -> SuperCalo at the test energies (Flow-2's coarse voxels rescaled
  per coarse layer to Flow-1's energies: ours);
and the variation of the fine showers drawn from one coarse shower: for a few test showers, many
upsamplings, the spread of fine observables among them against their spread over the test set.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..files import DataError, json_text, output_folder
from ..icaloflow.data import (NOISE_MEV, THRESHOLD_MEV, energy_condition, inverse_logit, layer_energies_from_features,
                              layer_energy_features, read_showers)
from ..icaloflow.evaluate import compare, observables, plot
from ..icaloflow.flows import build_teacher
from ..icaloflow.train import NetSpec, fit_steps
from .coarse import (COARSE_LAYERS, COARSE_SCALE_MEV, FINE_LAYERS, FINE_PER_COARSE, N_COARSE, N_CONDITIONS, assemble,
                     coarsen, conditions, fine_fractions, fine_groups)

UPSAMPLE_NOISE_MEV = 1e-4  # the authors' noise on fine voxels before the coarse energy is summed
COARSE_LOG_SHIFT = 6.0  # Flow-2's features: log10(E / COARSE_SCALE) + 6, as the authors'
VARIATION_KEYS = ("hits", "width_x_l20", "centre_x_l20", "depth")


@dataclass(frozen=True)
class SuperCaloConfig:
    flow1: NetSpec
    flow2: NetSpec
    upsampler: NetSpec
    train_fraction: float
    variation_showers: int
    variation_draws: int


# The authors' code: Flow-1 8 x 256 x 1 (35,000 steps of 1,000, one-cycle to 1e-4); Flow-2 8 blocks
# of one 648-unit layer (40 epochs of 1,000 on 70k showers: 2,800 steps, cyclic to 2e-3); SuperCalo
# 8 x 128 x 2 (40 epochs of 60,000 voxels: 30,240 steps, one-cycle to 1e-3); 70k train / 30k test.
PAPER = SuperCaloConfig(flow1=NetSpec(8, 256, 1, 35_000, 1e-4), flow2=NetSpec(8, 648, 1, 2_800, 2e-3),
                        upsampler=NetSpec(8, 128, 2, 30_240, 1e-3, 60_000), train_fraction=0.7,
                        variation_showers=20, variation_draws=100)
# Minutes on 2 cores: smaller flows and fewer steps; a fifth of the (fewer) showers for testing.
SMALL = replace(PAPER, flow1=NetSpec(4, 64, 1, 1000, 3e-3, 500), flow2=NetSpec(2, 256, 1, 800, 1e-3, 250),
                upsampler=NetSpec(4, 64, 2, 1200, 2e-3, 8192), train_fraction=0.8, variation_showers=10,
                variation_draws=30)
CONFIGS = {"paper": PAPER, "small": SMALL}


def coarse_layer_energies(layer_mev: np.ndarray) -> np.ndarray:
    return layer_mev.reshape(len(layer_mev), COARSE_LAYERS, FINE_LAYERS).sum(-1)


def flow2_features(coarse_mev: np.ndarray) -> np.ndarray:
    return (np.log10(np.maximum(coarse_mev, 1e-30) / COARSE_SCALE_MEV) + COARSE_LOG_SHIFT).astype(np.float32)


def coarse_from_flow2(features: np.ndarray) -> np.ndarray:
    e = 10 ** (features - COARSE_LOG_SHIFT) * COARSE_SCALE_MEV
    return np.where(e < THRESHOLD_MEV, 0.0, e)


def flow2_context(energy: np.ndarray, coarse_layer_mev: np.ndarray) -> np.ndarray:
    return np.concatenate([energy_condition(energy)[:, None], np.log10(np.maximum(coarse_layer_mev, 1e-3)) / 4],
                          1).astype(np.float32)


class Upsampler:
    """The trained upsampling flow: coarse showers -> fine showers."""

    def __init__(self, flow):
        self.flow = flow.eval()

    @torch.no_grad()
    def __call__(self, energy: np.ndarray, layer_mev: np.ndarray, coarse_mev: np.ndarray, seed: int,
                 chunk: int = 100_000) -> np.ndarray:
        torch.manual_seed(seed)
        context = torch.from_numpy(conditions(energy, layer_mev, coarse_mev).reshape(-1, N_CONDITIONS))
        draws = torch.cat([self.flow(context[k:k + chunk]).sample() for k in range(0, len(context), chunk)])
        u = np.clip(inverse_logit(draws.numpy().astype(np.float64)), 0.0, None)
        u = u / np.maximum(u.sum(-1, keepdims=True), 1e-30)
        fine = u.reshape(len(energy), N_COARSE, FINE_PER_COARSE) * coarse_mev[..., None]
        showers = assemble(fine)
        return np.where(showers < THRESHOLD_MEV, 0.0, showers)


def _split(n: int, fraction: float) -> int:
    n_train = int(round(fraction * n))
    if n_train < 50 or n - n_train < 50:
        raise DataError(f"{n} showers: SuperCalo needs at least 50 for training and 50 for testing")
    return n_train


def train_flows(energy: np.ndarray, showers: np.ndarray, config: SuperCaloConfig, seed: int, quiet: bool):
    """Flow-1, Flow-2 and the upsampler on these showers; returns (flows, loss curves)."""
    rng = np.random.default_rng(seed)
    noisy = showers + rng.uniform(0.0, NOISE_MEV, showers.shape)
    layer_mev = noisy.sum(-1)
    coarse = coarsen(noisy)
    flows, curves = {}, {}
    data = {"flow1": (layer_energy_features(layer_mev).astype(np.float32), energy_condition(energy)[:, None].astype(np.float32)),
            "flow2": (flow2_features(coarse), flow2_context(energy, coarse_layer_energies(layer_mev)))}
    fine = showers + rng.uniform(0.0, UPSAMPLE_NOISE_MEV, showers.shape)
    groups = fine_groups(fine)
    data["upsampler"] = (fine_fractions(groups).reshape(-1, FINE_PER_COARSE).astype(np.float32),
                         conditions(energy, fine.sum(-1), groups.sum(-1)).reshape(-1, N_CONDITIONS))
    for k, name in enumerate(("flow1", "flow2", "upsampler")):
        spec = getattr(config, name)
        x, c = (torch.from_numpy(a) for a in data[name])
        torch.manual_seed(seed + k)
        flow = build_teacher(x.shape[1], c.shape[1], spec.blocks, spec.hidden, spec.layers)
        curves[name] = fit_steps(f"SuperCalo {name}", flow, spec, lambda i, f=flow, x=x, c=c: -f(c[i]).log_prob(x[i]).mean(),
                                 len(x), quiet, seed + k)
        flows[name] = flow.eval()
    return flows, curves


@torch.no_grad()
def full_chain(flows: dict, energy: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow-1 -> Flow-2 -> upsampler at these energies: (layer energies, coarse voxels, showers)."""
    torch.manual_seed(seed)
    c1 = torch.from_numpy(energy_condition(energy)[:, None].astype(np.float32))
    layer_mev = layer_energies_from_features(flows["flow1"](c1).sample().numpy().astype(np.float64))
    c2 = torch.from_numpy(flow2_context(energy, coarse_layer_energies(layer_mev)))
    coarse = coarse_from_flow2(flows["flow2"](c2).sample().numpy().astype(np.float64))
    rng = np.random.default_rng(seed)
    coarse = coarse + rng.uniform(0.0, NOISE_MEV, coarse.shape)  # the authors' noise before upsampling
    # Ours: each coarse layer rescaled to Flow-1's energy for it, so that the upsampler's layer
    # conditions and its coarse voxels agree as they did in training.
    per_layer = coarse.reshape(len(energy), COARSE_LAYERS, -1)
    target = coarse_layer_energies(layer_mev)[..., None]
    coarse = (per_layer * target / np.maximum(per_layer.sum(-1, keepdims=True), 1e-30)).reshape(len(energy), N_COARSE)
    showers = Upsampler(flows["upsampler"])(energy, layer_mev, coarse, seed)
    return layer_mev, coarse, showers


def uniform_upsampling(coarse_mev: np.ndarray) -> np.ndarray:
    groups = np.repeat(coarse_mev[..., None] / FINE_PER_COARSE, FINE_PER_COARSE, axis=-1)
    showers = assemble(groups)
    return np.where(showers < THRESHOLD_MEV, 0.0, showers)


def variation(upsample, energy: np.ndarray, showers: np.ndarray, n_showers: int, draws: int, seed: int) -> dict:
    """For n_showers test showers, `draws` upsamplings of each from its true coarse voxels: per
    observable, the mean over showers of the spread among the draws, over the spread of the true
    showers of the test set (0: upsampling adds nothing; ~1: the draws vary as much as showers do)."""
    pick = np.arange(min(n_showers, len(energy)))
    coarse = coarsen(showers[pick])
    layer = showers[pick].sum(-1)
    reps = np.repeat(pick, draws)
    drawn = upsample(energy[reps], layer[np.repeat(np.arange(len(pick)), draws)],
                     coarse[np.repeat(np.arange(len(pick)), draws)], seed)
    obs_draws = observables(energy[reps], drawn)
    obs_true = observables(energy, showers)
    out = {}
    for key in VARIATION_KEYS:
        within = obs_draws.scalar(key).reshape(len(pick), draws).std(1).mean()
        out[key] = float(within / max(obs_true.scalar(key).std(), 1e-12))
    return out


def run_experiment(data: str | Path, out: str | Path, config: SuperCaloConfig = SMALL, seed: int = 0,
                   limit: int | None = None, quiet: bool = False) -> dict:
    energy, showers = read_showers(data, limit)
    n_train = _split(len(energy), config.train_fraction)
    start = time.perf_counter()
    flows, curves = train_flows(energy[:n_train], showers[:n_train], config, seed, quiet)
    train_seconds = time.perf_counter() - start
    e_test, s_test = energy[n_train:], showers[n_train:]
    upsample = Upsampler(flows["upsampler"])
    start = time.perf_counter()
    upsampled = upsample(e_test, s_test.sum(-1), coarsen(s_test), seed + 1)
    upsample_seconds = (time.perf_counter() - start) / len(e_test)
    start = time.perf_counter()
    _, _, chained = full_chain(flows, e_test, seed + 2)
    chain_seconds = (time.perf_counter() - start) / len(e_test)
    reference = observables(e_test, s_test)
    generated = {"SuperCalo on true coarse": observables(e_test, upsampled),
                 "uniform upsampling": observables(e_test, uniform_upsampling(coarsen(s_test))),
                 "full chain": observables(e_test, chained)}
    results = {"config": asdict(config), "data": str(data), "seed": seed, "train_showers": n_train,
               "test_showers": len(e_test), "train_seconds": train_seconds,
               "seconds_per_shower": {"upsampling": upsample_seconds, "full_chain": chain_seconds},
               "final_loss": {k: v[-1] for k, v in curves.items()},
               "comparison": compare(reference, generated, seed),
               "variation": variation(upsample, e_test, s_test, config.variation_showers, config.variation_draws,
                                      seed + 3)}
    with output_folder(out) as folder:
        (folder / "results.json").write_text(json_text(results))
        plot(reference, generated, folder / "observables.png")
    return results
