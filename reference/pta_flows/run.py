"""Training the amortised posterior on fresh simulations, and the paper's comparison: on simulated
data sets at given background parameters, the flow's posterior of (log10 A_gw, gamma_gw) against
the exact-likelihood MCMC's (Hellinger distance on a grid over the prior box, beside the distance
between two independent MCMC chains: the floor at these sample sizes), and the time per posterior."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..files import DataError, output_folder
from .array import PAPER_TOAS, build_array
from .flow import PosteriorFlow
from .model import Likelihood, draw_prior, prior_bounds, simulate
from .sampler import adaptive_metropolis


@dataclass(frozen=True)
class PTAConfig:
    n_toas: tuple[int, ...]
    n_freq: int
    span_years: float
    sigma_s: float
    infer: str                    # "background": (log10 A_gw, gamma_gw); "all": every parameter
    lstm_hidden: int
    lstm_layers: int
    per_pulsar: int
    context: int
    transforms: int
    hidden: tuple[int, ...]
    simulations: int              # fresh simulations per epoch
    epochs: int
    batch_size: int
    lr: float
    mcmc_steps: int
    mcmc_burn_in: int
    flow_samples: int
    test_points: tuple[tuple[float, float], ...]
    input_transform: str = "paper"  # of the residuals before the LSTMs: "paper" or "asinh"
    array_seed: int = 0


# The paper's public code: its ten pulsars and TOA counts over 12.5 years, 100 ns white noise, all
# 22 parameters inferred, an 8-transform spline flow (hidden 200-200), per-pulsar 2-layer LSTMs of
# 100, 20 features per pulsar, a context of 50, RAdam (here with a cosine decay), batch 768, 900k simulations (here fresh
# each epoch), 100 epochs; test points on the grid {-14.5, -15.5} x {2.5, 4.5} and the nominal
# (-15, 13/3). 30 frequencies is enterprise's default for red noise; the TOA epochs are uniform
# here (the paper uses the real observing epochs).
PAPER = PTAConfig(n_toas=PAPER_TOAS, n_freq=30, span_years=12.5, sigma_s=1e-7, infer="all", lstm_hidden=100,
                  lstm_layers=2, per_pulsar=20, context=50, transforms=8, hidden=(200, 200), simulations=900_000,
                  epochs=100, batch_size=768, lr=1e-3, mcmc_steps=1_000_000, mcmc_burn_in=100_000,
                  flow_samples=100_000,
                  test_points=((-14.5, 2.5), (-14.5, 4.5), (-15.5, 2.5), (-15.5, 4.5), (-15.0, 13 / 3)))
# Minutes on 2 cores: 40 TOAs per pulsar, 10 frequencies, the background's two parameters inferred
# (the red noise marginalised by simulation), small networks, short chains.
SMALL = replace(PAPER, n_toas=(40,) * 10, n_freq=10, infer="background", lstm_hidden=32, lstm_layers=1, per_pulsar=8,
                context=32, transforms=4, hidden=(64, 64), simulations=20_000, epochs=60, batch_size=64,
                mcmc_steps=150_000, mcmc_burn_in=30_000, flow_samples=20_000,
                test_points=((-14.5, 2.5), (-14.5, 4.5), (-15.0, 13 / 3)))
CONFIGS = {"paper": PAPER, "small": SMALL}


def _array(config: PTAConfig):
    return build_array(config.n_toas, span_years=config.span_years, n_freq=config.n_freq, sigma_s=config.sigma_s,
                       seed=config.array_seed)


def _flow(config: PTAConfig, array) -> PosteriorFlow:
    bounds = prior_bounds(array.n_pulsars)
    inferred = [0, 1] if config.infer == "background" else list(range(len(bounds)))
    return PosteriorFlow(bounds, inferred, array.n_pulsars, config.lstm_hidden, config.per_pulsar, config.context,
                         config.transforms, config.hidden, config.lstm_layers, config.input_transform)


def _tensors(residuals: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.tensor(r, dtype=torch.float32) for r in residuals]


def train(out: str | Path, config: PTAConfig = SMALL, seed: int = 0, progress=print) -> dict:
    """Train on fresh prior simulations each epoch; keep the best validation loss. Writes
    OUT/flow.pt and OUT/run.json."""
    array = _array(config)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    flow = _flow(config, array)
    opt = torch.optim.RAdam(flow.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)  # per epoch, to 0 at the end
    val_theta = draw_prior(array.n_pulsars, 2000, np.random.default_rng(seed + 10_000))
    val_data = _tensors(simulate(array, val_theta, np.random.default_rng(seed + 20_000)))
    val_theta = torch.tensor(val_theta, dtype=torch.float32)
    curve, best, best_state = [], np.inf, None
    start = time.perf_counter()
    for epoch in range(config.epochs):
        theta = draw_prior(array.n_pulsars, config.simulations, rng)
        data = simulate(array, theta, rng)
        theta_t, data_t = torch.tensor(theta, dtype=torch.float32), _tensors(data)
        flow.train()
        total = 0.0
        batches = range(0, config.simulations - config.batch_size + 1, config.batch_size)
        for lo in batches:
            loss = flow.loss(theta_t[lo:lo + config.batch_size], [d[lo:lo + config.batch_size] for d in data_t])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        schedule.step()
        flow.eval()
        with torch.no_grad():
            val = float(flow.loss(val_theta, val_data))
        curve.append({"train": total / len(batches), "validation": val})
        if val < best:
            best, best_state = val, {k: v.clone() for k, v in flow.state_dict().items()}
        progress(f"epoch {epoch + 1}/{config.epochs}: train {curve[-1]['train']:.3f}, validation {val:.3f}")
    if best_state is None:
        raise DataError(f"{out}: training diverged (every validation loss is NaN); nothing written")
    summary = {"config": asdict(config), "seed": seed, "curve": curve, "best_validation": best,
               "train_seconds": time.perf_counter() - start, "simulations": config.simulations * config.epochs}
    with output_folder(out) as folder:
        torch.save(best_state, folder / "flow.pt")
        (folder / "run.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_run(path: str | Path) -> tuple[PTAConfig, PosteriorFlow]:
    path = Path(path)
    if not (path / "run.json").is_file() or not (path / "flow.pt").is_file():
        raise DataError(f"{path}: not a trained run (needs run.json and flow.pt; `python -m "
                        "l1forge.reference.pta_flows train` writes them)")
    try:
        stored = json.loads((path / "run.json").read_text())["config"]
        stored["test_points"] = tuple(tuple(p) for p in stored["test_points"])
        config = PTAConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
        flow = _flow(config, _array(config))
        flow.load_state_dict(torch.load(path / "flow.pt", weights_only=True))
    except (ValueError, KeyError, TypeError, RuntimeError) as err:  # JSON, missing or stale settings, weights
        raise DataError(f"{path}: not a run this version can load ({type(err).__name__}: {str(err)[:120]})") from None
    flow.eval()
    return config, flow


def hellinger(a: np.ndarray, b: np.ndarray, bounds: np.ndarray, bins: int = 20) -> float:
    """Hellinger distance of two 2-D samples' histograms on a bins x bins grid over `bounds`
    (0: the same histogram, 1: no bin in common)."""
    edges = [np.linspace(lo, hi, bins + 1) for lo, hi in bounds]
    p = np.histogram2d(a[:, 0], a[:, 1], bins=edges)[0]
    q = np.histogram2d(b[:, 0], b[:, 1], bins=edges)[0]
    p, q = p / p.sum(), q / q.sum()
    return float(np.sqrt(max(0.0, 1.0 - np.sqrt(p * q).sum())))


def evaluate(run: str | Path, out: str | Path, seed: int = 1, progress=print) -> dict:
    """At each test point: simulate a data set (red noise from the prior), run two exact-likelihood
    chains and the flow; write OUT/results.json and OUT/posteriors.png."""
    config, flow = load_run(run)
    array = _array(config)
    bounds = prior_bounds(array.n_pulsars)
    rng = np.random.default_rng(seed)
    points = []
    for i, (log10_a, gamma) in enumerate(config.test_points):
        theta = draw_prior(array.n_pulsars, 1, rng)[0]
        theta[:2] = log10_a, gamma
        data = [d[0] for d in simulate(array, theta, rng)]
        likelihood = Likelihood(array, data)
        chains, seconds = [], []
        for c in range(2):
            start = time.perf_counter()
            kept, acceptance = adaptive_metropolis(likelihood, theta, bounds, config.mcmc_steps, config.mcmc_burn_in,
                                                   seed=seed * 100 + 10 * i + c)
            seconds.append(time.perf_counter() - start)
            chains.append((kept[:, :2], acceptance))
        start = time.perf_counter()
        flow_samples = flow.sample([torch.tensor(d[None], dtype=torch.float32) for d in data], config.flow_samples)
        flow_seconds = time.perf_counter() - start
        point = {"log10_A_gw": log10_a, "gamma_gw": gamma, "theta": theta.tolist(),
                 "hellinger_flow_mcmc": hellinger(flow_samples[:, :2], chains[0][0], bounds[:2]),
                 "hellinger_mcmc_mcmc": hellinger(chains[1][0], chains[0][0], bounds[:2]),
                 "mcmc_acceptance": [chains[0][1], chains[1][1]], "mcmc_seconds": float(np.mean(seconds)),
                 "flow_seconds": flow_seconds, "flow_samples": config.flow_samples,
                 "mcmc_samples": int(len(chains[0][0])),
                 "mcmc_mean": chains[0][0].mean(0).tolist(), "flow_mean": flow_samples[:, :2].mean(0).tolist(),
                 "mcmc_std": chains[0][0].std(0).tolist(), "flow_std": flow_samples[:, :2].std(0).tolist()}
        points.append({**point, "_mcmc": chains[0][0], "_flow": flow_samples[:, :2]})
        progress(f"log10 A {log10_a:g}, gamma {gamma:.2f}: Hellinger flow-MCMC {point['hellinger_flow_mcmc']:.3f} "
                 f"(MCMC-MCMC {point['hellinger_mcmc_mcmc']:.3f}); MCMC {point['mcmc_seconds']:.1f} s, "
                 f"flow {flow_seconds:.2f} s")
    results = {"run": str(run), "seed": seed, "points": [{k: v for k, v in p.items() if not k.startswith("_")}
                                                         for p in points]}
    with output_folder(out) as folder:
        plot(points, bounds[:2], folder / "posteriors.png")
        (folder / "results.json").write_text(json.dumps(results, indent=1))
    return results


def plot(points: list[dict], bounds: np.ndarray, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(points), figsize=(4.2 * len(points), 4), squeeze=False)
    for ax, p in zip(axes[0], points):
        for samples, color, name in ((p["_mcmc"], "k", "MCMC (exact likelihood)"), (p["_flow"], "C1", "flow")):
            h, xe, ye = np.histogram2d(samples[:, 0], samples[:, 1], bins=30, range=bounds, density=True)
            level = np.sort(h.ravel())[::-1]
            cumulative = np.cumsum(level) / level.sum()
            levels = sorted({level[np.searchsorted(cumulative, q)] for q in (0.39, 0.86)})
            ax.contour((xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2, h.T, levels=levels, colors=color)
            ax.plot([], [], color=color, label=name)
        ax.plot(p["log10_A_gw"], p["gamma_gw"], "r*", ms=10, label="truth")
        ax.set_xlabel("log10 A_gw")
        ax.set_ylabel("gamma_gw")
        ax.set_title(f"H = {p['hellinger_flow_mcmc']:.2f} (MCMC-MCMC {p['hellinger_mcmc_mcmc']:.2f})", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
