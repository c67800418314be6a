"""Training ConvL2LFlows and generating with it: the energy flow (45 layer energies | E_inc), then
one layer flow per layer (flows.py), each by maximum likelihood on its own (the layers' flows do not
share weights). A trained model is a folder: model.json (config, the voxel transform's scales) and
one state file per flow.

PAPER is the paper's configuration (its public conf/energy.yaml and conf/causal.yaml): an energy
MAF of 6 spline MADE blocks (8 bins, one hidden layer of 64), 2,000 epochs of batches of 1,024 at
1e-3 (about 176,000 steps on 90,000 showers); layer flows of 8 blocks (U-Net 32 channels, two
downsamplings by (3, 5), 10 spline bins as nflows' default, an 8-channel condition embedding, the 5
previous layers), 800 epochs of batches of 1,024, Adam at 6e-4 with a one-cycle schedule (about
70,000 steps per layer). SMALL trains in about ten minutes on 2 CPU cores: 2 blocks of an 8-channel
U-Net with one downsampling, the 5 previous layers, 150 steps of 128 per layer at 6e-3.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..icaloflow.data import energy_condition, layer_energies_from_features
from ..icaloflow.flows import build_teacher
from ..icaloflow.train import NetSpec, fit_steps
from .data import (N_ALPHA, N_LAYERS, N_RADIAL, VoxelTransform, energy_features, incident_condition, layer_condition,
                   noisy_batch, readout, renormalize, to_images)
from .flows import LayerFlow


@dataclass(frozen=True)
class LayerSpec:
    """Every layer flow's network and training."""
    blocks: int
    hidden: int
    bins: int
    downsamples: tuple[tuple[int, int], ...]
    embed: int
    condition_layers: int
    steps: int
    max_lr: float
    batch: int


@dataclass(frozen=True)
class ConvL2LConfig:
    energy: NetSpec
    layers: LayerSpec

    def to_dict(self) -> dict:
        return {"energy": asdict(self.energy), "layers": asdict(self.layers)}

    @classmethod
    def from_dict(cls, d: dict) -> "ConvL2LConfig":
        layers = dict(d["layers"], downsamples=tuple(tuple(k) for k in d["layers"]["downsamples"]))
        return cls(NetSpec(**d["energy"]), LayerSpec(**layers))


PAPER = ConvL2LConfig(energy=NetSpec(6, 64, 1, 176_000, 1e-3, 1024),
                      layers=LayerSpec(8, 32, 10, ((3, 5), (3, 5)), 8, 5, 70_400, 6e-4, 1024))
SMALL = replace(PAPER, energy=NetSpec(4, 64, 1, 1500, 3e-3, 500),
                layers=LayerSpec(2, 8, 8, ((3, 5),), 4, 5, 150, 6e-3, 128))
CONFIGS = {"paper": PAPER, "small": SMALL}


def _first_condition_layer(layer: int, spec: LayerSpec) -> int:
    return max(0, layer - spec.condition_layers)


def build_layer_flow(layer: int, spec: LayerSpec) -> LayerFlow:
    previous = layer - _first_condition_layer(layer, spec)
    return LayerFlow(previous + 2, spec.blocks, spec.hidden, spec.bins, spec.downsamples, spec.embed)


def _broadcast(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(-1, 1, 1, 1).expand(-1, 1, N_RADIAL, N_ALPHA)


def layer_context(previous: torch.Tensor, layer_mev: torch.Tensor, energy_mev: torch.Tensor) -> torch.Tensor:
    """(B, k + 2, 18, 50): the previous layers in the flow's space, then the two energy channels."""
    return torch.cat([previous, _broadcast(layer_condition(layer_mev)), _broadcast(incident_condition(energy_mev))], 1)


class Model:
    """A trained ConvL2LFlows: the energy flow, the 45 layer flows and the voxel transform."""

    def __init__(self, config: ConvL2LConfig, transform: VoxelTransform, energy_flow, layer_flows: list[LayerFlow]):
        self.config, self.transform = config, transform
        self.energy_flow = energy_flow.eval()
        self.layer_flows = [f.eval() for f in layer_flows]

    def save(self, folder: Path, extra: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.energy_flow.state_dict(), folder / "energy_flow.pt")
        torch.save([f.state_dict() for f in self.layer_flows], folder / "layer_flows.pt")
        (folder / "model.json").write_text(json.dumps({"config": self.config.to_dict(),
                                                       "layer_scale_mev": self.transform.scale.tolist(), **extra},
                                                      indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> "Model":
        folder = Path(folder)
        if not (folder / "model.json").is_file():
            raise FileNotFoundError(f"{folder}: not a ConvL2LFlows model (no model.json)")
        meta = json.loads((folder / "model.json").read_text())
        config = ConvL2LConfig.from_dict(meta["config"])
        energy_flow = build_teacher(N_LAYERS, 1, config.energy.blocks, config.energy.hidden, config.energy.layers)
        energy_flow.load_state_dict(torch.load(folder / "energy_flow.pt", weights_only=True))
        flows = []
        for layer, state in enumerate(torch.load(folder / "layer_flows.pt", weights_only=True)):
            flows.append(build_layer_flow(layer, config.layers))
            flows[-1].load_state_dict(state)
        return cls(config, VoxelTransform(meta["layer_scale_mev"]), energy_flow, flows)

    @torch.no_grad()
    def sample(self, energy_mev: np.ndarray, seed: int, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """(voxels (N, 45, 18, 50) MeV before the readout, the energy flow's layer energies (N, 45)
        MeV) at these incident energies."""
        torch.manual_seed(seed)
        voxels, layers = [], []
        for start in range(0, len(energy_mev), batch):
            energy = np.asarray(energy_mev[start:start + batch], dtype=np.float64)
            c = torch.from_numpy(energy_condition(energy)[:, None].astype(np.float32))
            layer_mev = torch.from_numpy(layer_energies_from_features(
                self.energy_flow(c).sample().numpy().astype(np.float64)).astype(np.float32))
            e = torch.from_numpy(energy.astype(np.float32))
            features = []
            for layer, flow in enumerate(self.layer_flows):
                first = _first_condition_layer(layer, self.config.layers)
                previous = torch.cat(features[first:layer], 1) if layer > first else torch.zeros(len(e), 0, N_RADIAL, N_ALPHA)
                features.append(flow.sample(layer_context(previous, layer_mev[:, layer], e)))
            voxels.append(self.transform.inverse(torch.cat(features, 1)).numpy().astype(np.float64))
            layers.append(layer_mev.numpy().astype(np.float64))
        return np.concatenate(voxels), np.concatenate(layers)

    def generate(self, energy_mev: np.ndarray, seed: int, renormalized: bool = False) -> np.ndarray:
        """Showers (N, 45, 18, 50) MeV as read out (voxels under the threshold zeroed); `renormalized`:
        each layer rescaled to the energy flow's layer energy first (data.renormalize)."""
        voxels, layer_mev = self.sample(energy_mev, seed)
        return renormalize(voxels, layer_mev) if renormalized else readout(voxels)


def train_model(energy: np.ndarray, showers: np.ndarray, config: ConvL2LConfig, seed: int = 0,
                quiet: bool = False) -> tuple[Model, dict]:
    """Train on showers (N, 45, 900) MeV with incident energies (N,) MeV; (model, loss curves and
    train seconds)."""
    images = to_images(showers).astype(np.float32)
    transform = VoxelTransform.fit(images)
    start = time.perf_counter()
    x = torch.from_numpy(energy_features(showers.sum(-1), np.random.default_rng(seed)))
    c = torch.from_numpy(energy_condition(energy)[:, None].astype(np.float32))
    torch.manual_seed(seed)
    spec = config.energy
    energy_flow = build_teacher(N_LAYERS, 1, spec.blocks, spec.hidden, spec.layers)
    curves = {"energy": fit_steps("energy flow (MAF)", energy_flow, spec,
                                  lambda i: -energy_flow(c[i]).log_prob(x[i]).mean(), len(x), quiet, seed)}
    seconds = {"energy": time.perf_counter() - start}
    images_t = torch.from_numpy(images)
    energy_t = torch.from_numpy(energy.astype(np.float32))
    flows, layer_curves = [], []
    start = time.perf_counter()
    for layer in range(N_LAYERS):
        first = _first_condition_layer(layer, config.layers)
        torch.manual_seed(seed + 1 + layer)
        flow = build_layer_flow(layer, config.layers)
        gen = torch.Generator().manual_seed(seed + 1 + layer)
        dims = N_RADIAL * N_ALPHA

        def loss(index, flow=flow, first=first, layer=layer, gen=gen):
            flow_input, layer_mev = noisy_batch(images_t[index, first:layer + 1], gen)
            features = transform.forward(flow_input, slice(first, layer + 1))
            context = layer_context(features[:, :-1], layer_mev[:, -1], energy_t[index])
            return -flow.log_prob(features[:, -1:], context).mean() / dims

        layer_curves.append(fit_steps(f"layer {layer + 1}/{N_LAYERS} flow", flow, config.layers, loss, len(images),
                                      quiet, seed + 1 + layer))
        flows.append(flow)
    seconds["layers"] = time.perf_counter() - start
    curves["layers"] = layer_curves
    return Model(config, transform, energy_flow, flows), {"curves": curves, "train_seconds": seconds}
