"""Train EPiC-FM and EPiC-JeDi per jet class on l1forge jets, generate as many clouds as the test
split holds (with the test jets' multiplicities and conditions, as the authors), and score them
with the JetNet metrics against the test jets, beside the same metrics between the training and
test jets (the "truth" row: what the metrics read for two samples of one distribution)."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..files import json_text, output_folder
from ..jetnet_metrics import efps_to_degree_4, fpd, kl_metrics, kpd, relative_mass, w1_metrics
from .data import Clouds, Scaler, read_clouds
from .generative import Diffusion, FlowMatching
from .network import EPiCNetwork

MODELS = {"fm": FlowMatching, "jedi": Diffusion}


@dataclass(frozen=True)
class EPiCConfig:
    n_particles: int
    classes: tuple[str, ...]
    hidden: int
    latent: int
    layers: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    ema: float
    grad_clip: float
    fm_steps: int          # midpoint steps of EPiC-FM's ODE
    jedi_steps: int        # Euler-Maruyama steps of EPiC-JeDi
    metric_batch: int      # jets per batch of W1 (jetnet: 50,000)
    metric_batches: int    # W1 batches (the authors: 40)
    test_fraction: float = 0.3


# The authors' code: 6 EPiC layers, hidden 128, latent 10, AdamW lr 1e-3 (weight decay 5e-5),
# cosine schedule with warm-up, batch 1024, EMA 0.999, gradient clip 0.5, midpoint 100 steps (FM),
# Euler-Maruyama 200 steps (JeDi); JetNet30 top jets (and gluon, as the issue asks); 70/30 split.
PAPER = EPiCConfig(n_particles=30, classes=("t", "g"), hidden=128, latent=10, layers=6, epochs=2000,
                   batch_size=1024, lr=1e-3, weight_decay=5e-5, warmup_steps=1000, ema=0.999, grad_clip=0.5,
                   fm_steps=100, jedi_steps=200, metric_batch=50_000, metric_batches=40)
# Minutes on 2 cores: hidden 64, 3 layers, 100 epochs of batches of 256, 50 / 100 sampling steps.
SMALL = replace(PAPER, hidden=64, layers=3, epochs=100, batch_size=256, warmup_steps=100, fm_steps=50,
                jedi_steps=100, metric_batch=5000, metric_batches=10)
# JetNet150: the authors' fm_tops150_cond.yaml differs from the 30-particle one only in the count.
PAPER150 = replace(PAPER, n_particles=150)
CONFIGS = {"paper": PAPER, "paper150": PAPER150, "small": SMALL}


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def train_model(kind: str, clouds: Clouds, scaler: Scaler, config: EPiCConfig, seed: int,
                progress=lambda _: None) -> tuple[object, list[float], float]:
    """Train one model; returns it (with the EMA weights), the loss per epoch and the seconds."""
    torch.manual_seed(seed)
    network = EPiCNetwork(features=clouds.particles.shape[-1], hidden=config.hidden, latent=config.latent,
                          layers=config.layers, jet_conditions=clouds.jet.shape[-1])
    average = copy.deepcopy(network)
    model = MODELS[kind](network)
    x = torch.from_numpy(scaler.particles(clouds))
    mask = torch.from_numpy(clouds.mask)
    jet = torch.from_numpy(scaler.jet(clouds.jet))
    opt = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    batch = min(config.batch_size, len(x))
    steps_per_epoch = max(1, len(x) // batch)
    total = config.epochs * steps_per_epoch
    rng = np.random.default_rng(seed)
    curve, step, start = [], 0, time.perf_counter()
    for epoch in range(config.epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        running = 0.0
        for k in range(steps_per_epoch):
            rows = order[k * batch:(k + 1) * batch]
            for group in opt.param_groups:
                group["lr"] = config.lr * _lr_factor(step, config.warmup_steps, total)
            loss = model.loss(x[rows], mask[rows], jet[rows])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
            opt.step()
            decay = min(config.ema, (1 + step) / (10 + step))  # short runs: the average forgets the initial weights
            with torch.no_grad():
                for a, p in zip(average.parameters(), network.parameters()):
                    a.mul_(decay).add_(p, alpha=1 - decay)
            running += loss.item()
            step += 1
        curve.append(running / steps_per_epoch)
        progress(f"{MODELS[kind].name} epoch {epoch + 1}/{config.epochs}: loss {curve[-1]:.4f}")
    return MODELS[kind](average), curve, time.perf_counter() - start


def generate(model, kind: str, mask: np.ndarray, jet: np.ndarray, scaler: Scaler, config: EPiCConfig, seed: int,
             chunk: int = 2000) -> tuple[np.ndarray, float]:
    """Clouds for the given multiplicities (masks) and jet conditions; returns them unscaled and
    the seconds per jet."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    start = time.perf_counter()
    for k in range(0, len(mask), chunk):
        m = torch.from_numpy(mask[k:k + chunk])
        j = torch.from_numpy(scaler.jet(jet[k:k + chunk]))
        steps = config.fm_steps if kind == "fm" else config.jedi_steps
        out.append(model.sample(m, j, steps, features=len(scaler.mean), generator=generator).numpy())
    seconds = (time.perf_counter() - start) / len(mask)
    return scaler.unscale(np.concatenate(out), mask), seconds


def evaluate(real: Clouds, particles: np.ndarray, mask: np.ndarray, config: EPiCConfig, seed: int) -> dict:
    """The JetNet metrics of a sample against the real clouds."""
    real_efps, efps = efps_to_degree_4(real.particles, real.mask), efps_to_degree_4(particles, mask)
    smallest = min(len(real), len(particles))
    return {**w1_metrics(real.particles, real.mask, particles, mask, config.metric_batch, config.metric_batches, seed),
            "FPD": fpd(real_efps, efps, max(50, smallest // 5), smallest, seed=seed),
            "KPD": kpd(real_efps, efps, min(5000, smallest), seed=seed),
            "KL": kl_metrics(real.particles, real.mask, particles, mask)}


def run_experiment(data: str | Path, out: str | Path, config: EPiCConfig = SMALL, models: tuple[str, ...] = ("fm", "jedi"),
                   seed: int = 0, limit: int | None = None, progress=print) -> dict:
    """Train, generate and evaluate per class and model; write OUT/results.json, OUT/epic.png and
    OUT/CLASS_MODEL.pt (the EMA network's weights and the scaler)."""
    results = {"config": asdict(config), "seed": seed, "data": str(data), "classes": {}}
    samples, weights = {}, {}
    for jet_class in config.classes:
        clouds = read_clouds(data, jet_class, config.n_particles, limit)
        order = np.random.default_rng(seed).permutation(len(clouds))
        n_test = int(len(order) * config.test_fraction)
        train, test = clouds.select(np.sort(order[n_test:])), clouds.select(np.sort(order[:n_test]))
        scaler = Scaler.fit(train)
        entry = {"jets": {"train": len(train), "test": len(test)},
                 "truth": evaluate(test, train.particles, train.mask, config, seed), "models": {}}
        samples[jet_class] = {"truth (train)": train, "test": test}
        for kind in models:
            model, curve, seconds = train_model(kind, train, scaler, config, seed, progress)
            generated, per_jet = generate(model, kind, test.mask, test.jet, scaler, config, seed + 1)
            metrics = evaluate(test, generated, test.mask, config, seed)
            entry["models"][kind] = {"name": MODELS[kind].name, "loss_curve": curve, "train_seconds": seconds,
                                     "seconds_per_jet": per_jet, "metrics": metrics}
            samples[jet_class][MODELS[kind].name] = Clouds(generated, test.mask, test.jet)
            weights[f"{jet_class}_{kind}.pt"] = {"state_dict": model.network.state_dict(), "scaler": scaler.to_dict(),
                                                 "config": asdict(config)}
            progress(f"{jet_class} {MODELS[kind].name}: W1M {metrics['W1M']['mean']:.2e} (truth "
                     f"{entry['truth']['W1M']['mean']:.2e}), W1P {metrics['W1P']['mean']:.2e}, W1EFP "
                     f"{metrics['W1EFP']['mean']:.2e}, {per_jet * 1e3:.2f} ms per jet")
        results["classes"][jet_class] = entry
    with output_folder(out) as folder:
        for name, payload in weights.items():
            torch.save(payload, folder / name)
        plot(samples, folder / "epic.png")
        (folder / "results.json").write_text(json_text(results))
    return results


def plot(samples: dict, path: Path) -> None:
    """Per class: the relative jet mass and the three particle features, real and generated."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(samples), 4, figsize=(15, 3.4 * len(samples)), squeeze=False)
    for row, (jet_class, by_name) in enumerate(samples.items()):
        test = by_name["test"]
        quantities = [("relative jet mass", lambda c: relative_mass(c.particles, c.mask))]
        quantities += [(name, lambda c, k=k: c.particles[c.mask][:, k])
                       for k, name in enumerate(("eta_rel", "phi_rel", "pT_rel"))]
        for ax, (label, value) in zip(axes[row], quantities):
            edges = np.quantile(value(test), np.linspace(0.001, 0.999, 41))
            for name, clouds in by_name.items():
                if name == "truth (train)":
                    continue
                ax.hist(value(clouds), np.unique(edges), histtype="step", density=True, label=name,
                        color="k" if name == "test" else None)
            ax.set_title(f"{jet_class} jets: {label}")
            if label == "pT_rel":
                ax.set_yscale("log")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
