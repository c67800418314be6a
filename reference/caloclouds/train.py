"""Training and sampling CaloClouds: ShowerFlow (CaloClouds II's, reference/caloclouds2), then the
encoder, the DDPM and the latent flow together on batches of whole showers; sampling draws a
shower's make-up from ShowerFlow, z from the latent flow, the points from the DDPM, and puts them
in place as CaloClouds II does (per-layer counts and energies, centre).

Points are normalised as CaloClouds II's (x, layer, z, ln e standardised) rather than v1's min-max
coordinates and linear MeV; the pieces shared with CaloClouds II are its ShowerFlow (which also
carries the per-layer energies and the centre) and its point placement."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..caloclouds2.data import PointScaler, read_showers, split_features
from ..caloclouds2.generate import place_points
from ..caloclouds2.showerflow import ShowerFlow
from ..caloclouds2.train import progress_bar, train_flow
from ..files import DataError, output_folder
from .model import CaloClouds


@dataclass(frozen=True)
class CaloCloudsConfig:
    hidden: tuple[int, ...]
    encoder_hidden: int
    encoder_global: int
    encoder_layers: int
    latent: int
    latent_flow_transforms: int
    latent_flow_hidden: tuple[int, ...]
    steps: int
    iterations: int
    batch_showers: int
    lr: float
    lr_final: float
    lr_decay: tuple[int, int]      # the learning rate falls linearly from lr to lr_final between these iterations
    grad_clip: float
    kl_weight: float
    flow_transforms: int           # ShowerFlow (CaloClouds II's class)
    flow_hidden: tuple[int, ...]
    flow_epochs: int
    flow_batch: int
    flow_lr: float

    @classmethod
    def from_dict(cls, d: dict) -> "CaloCloudsConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


RUN_KIND = "CaloClouds"  # run.json's "model": what load_run accepts

# The authors' configs.py: PointWiseNet 128-256-512-256-128, EPiC encoder (128 wide, global 256,
# 3 layers), latent 256, 10 spline couplings of 128-128 for the latent flow, 100 DDPM steps, Adam
# at 2e-3 falling linearly to 1e-4 between iterations 300k and 2M, gradient clip 10, KL weight 1e-3,
# batches of 128 showers; ShowerFlow as CaloClouds II's (10 blocks).
PAPER = CaloCloudsConfig(hidden=(128, 256, 512, 256, 128), encoder_hidden=128, encoder_global=256, encoder_layers=3,
                         latent=256, latent_flow_transforms=10, latent_flow_hidden=(128, 128), steps=100,
                         iterations=2_000_000, batch_showers=128, lr=2e-3, lr_final=1e-4, lr_decay=(300_000, 2_000_000),
                         grad_clip=10.0, kl_weight=1e-3, flow_transforms=10, flow_hidden=(256, 256), flow_epochs=200,
                         flow_batch=256, flow_lr=1e-3)
# Minutes on 2 cores.
SMALL = replace(PAPER, hidden=(64, 64, 64), encoder_hidden=32, encoder_global=32, encoder_layers=2, latent=16,
                latent_flow_transforms=3, latent_flow_hidden=(64, 64), iterations=3000, batch_showers=16,
                lr_decay=(1000, 3000), flow_transforms=3, flow_hidden=(64, 64), flow_epochs=60, flow_batch=128)
CONFIGS = {"paper": PAPER, "small": SMALL}


def build_model(config: CaloCloudsConfig) -> CaloClouds:
    return CaloClouds(config.hidden, config.encoder_hidden, config.encoder_global, config.encoder_layers, config.latent,
                      config.latent_flow_transforms, config.latent_flow_hidden, config.steps, config.kl_weight)


def _learning_rate(config: CaloCloudsConfig, step: int) -> float:
    start, end = config.lr_decay
    share = min(1.0, max(0.0, (step - start) / max(1, end - start)))
    return config.lr + share * (config.lr_final - config.lr)


class _ShowerBatches:
    """Batches of whole showers, zero-padded to the longest, with their conditions."""

    def __init__(self, scaler: PointScaler, energy: np.ndarray, showers: list[np.ndarray], rng: np.random.Generator):
        counts = np.array([len(s) for s in showers])
        points = scaler.points(showers, rng)
        self.showers = np.split(points, np.cumsum(counts)[:-1])
        self.conditions = torch.from_numpy(scaler.context(energy, counts))
        self.rng = rng

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = self.rng.integers(0, len(self.showers), n)
        width = max(len(self.showers[r]) for r in rows)
        x = np.zeros((n, width, 4), np.float32)
        mask = np.zeros((n, width), bool)
        for k, r in enumerate(rows):
            x[k, :len(self.showers[r])] = self.showers[r]
            mask[k, :len(self.showers[r])] = True
        return torch.from_numpy(x), torch.from_numpy(mask), self.conditions[torch.from_numpy(rows)]


def train_model(config: CaloCloudsConfig, batches: _ShowerBatches, seed: int, quiet: bool = False) -> tuple[CaloClouds, dict]:
    """Encoder and DDPM by one optimiser (squared error + KL), the latent flow by its own on the
    detached z, as the authors' training loop."""
    torch.manual_seed(seed)
    model = build_model(config)
    main = [p for name, p in model.named_parameters() if not name.startswith("latent_flow")]
    opt = torch.optim.Adam(main, lr=config.lr)
    flow_opt = torch.optim.Adam(model.latent_flow.parameters(), lr=config.lr)
    curves = {"diffusion": [], "kl": [], "latent_flow_nll": []}
    window = {k: [] for k in curves}
    every = max(1, config.iterations // 100)
    with progress_bar("CaloClouds (encoder + DDPM + latent flow)", config.iterations, quiet) as bar:
        for step in range(config.iterations):
            for group in opt.param_groups + flow_opt.param_groups:
                group["lr"] = _learning_rate(config, step)
            diffusion, kl, flow_nll = model.losses(*batches.draw(config.batch_showers))
            opt.zero_grad()
            flow_opt.zero_grad()
            (diffusion + kl).backward()
            flow_nll.backward()
            torch.nn.utils.clip_grad_norm_(main, config.grad_clip)
            torch.nn.utils.clip_grad_norm_(model.latent_flow.parameters(), config.grad_clip)
            opt.step()
            flow_opt.step()
            for key, value in zip(curves, (diffusion, kl, flow_nll)):
                window[key].append(float(value.detach()))
            if len(window["diffusion"]) == every:
                for key in curves:
                    curves[key].append(float(np.mean(window[key])))
                    window[key] = []
                bar.update(0, advance=every, status=f"diffusion {curves['diffusion'][-1]:.4f}")
    return model.eval(), curves


def train_run(data: str | Path, out: str | Path, config: CaloCloudsConfig = SMALL, seed: int = 0,
              limit: int | None = None, quiet: bool = False) -> dict:
    """Train ShowerFlow and CaloClouds on a shower file; write run.json, showerflow.pt and
    caloclouds.pt to `out` (all at once)."""
    energy, showers = read_showers(data, limit)
    if len(showers) < 20:
        raise DataError(f"{data}: needs at least 20 showers, found {len(showers)}")
    rng = np.random.default_rng(seed)
    scaler = PointScaler.fit(energy, showers, 1.0)
    times = {}
    start = time.perf_counter()
    flow, flow_curve = train_flow(config, energy, showers, seed, quiet)
    times["showerflow_s"] = time.perf_counter() - start
    start = time.perf_counter()
    model, curves = train_model(config, _ShowerBatches(scaler, energy, showers, rng), seed, quiet)
    times["caloclouds_s"] = time.perf_counter() - start
    summary = {"model": RUN_KIND, "data": str(data), "showers": len(showers), "seed": seed, "config": asdict(config),
               "scaler": scaler.to_dict(), "seconds": times, "curves": {"showerflow_nll": flow_curve, **curves}}
    with output_folder(out) as folder:
        torch.save(flow.state_dict(), folder / "showerflow.pt")
        torch.save(model.state_dict(), folder / "caloclouds.pt")
        (folder / "run.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_run(run: str | Path) -> tuple[CaloCloudsConfig, PointScaler, ShowerFlow, CaloClouds]:
    run = Path(run)
    if not (run / "run.json").is_file():
        raise DataError(f"{run}: not a CaloClouds run (no run.json; train one first)")
    try:
        summary = json.loads((run / "run.json").read_text())
        if summary.get("model") != RUN_KIND:
            raise DataError(f"{run}: not a CaloClouds run (its run.json is of {summary.get('model', 'another model')!r})")
        config, scaler = CaloCloudsConfig.from_dict(summary["config"]), PointScaler.from_dict(summary["scaler"])
        flow_state = torch.load(run / "showerflow.pt", weights_only=True)
        flow = ShowerFlow(len(flow_state["mean"]), config.flow_transforms, config.flow_hidden, scaler.energy_range)
        flow.load_state_dict(flow_state)
        model = build_model(config)
        model.load_state_dict(torch.load(run / "caloclouds.pt", weights_only=True))
    except (ValueError, TypeError, KeyError, RuntimeError, AttributeError) as err:  # json's errors are ValueErrors
        if isinstance(err, DataError):
            raise
        raise DataError(f"{run}: a damaged CaloClouds run ({type(err).__name__}: {str(err).splitlines()[0][:120]})") from None
    return config, scaler, flow.eval(), model.eval()


def generate_showers(flow: ShowerFlow, model: CaloClouds, scaler: PointScaler, energy: np.ndarray, seed: int = 0,
                     chunk: int = 64) -> list[np.ndarray]:
    """Showers (k, 4 points each) for the given incident energies (GeV)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    made = [split_features(r) for r in flow.sample(np.asarray(energy, dtype=np.float64))]
    showers = []
    for start in range(0, len(made), chunk):
        part = made[start:start + chunk]
        counts = [m[0] for m in part]
        conditions = torch.from_numpy(scaler.context(np.asarray(energy[start:start + chunk]), np.array(counts)))
        x = model.sample(conditions, counts, generator).numpy().astype(np.float64)
        points = np.split(scaler.unscale(x), np.cumsum(counts)[:-1])
        for p, (_, visible, centre, layer_counts, share) in zip(points, part):
            showers.append(place_points(p, layer_counts, share, visible, centre))
    return showers
