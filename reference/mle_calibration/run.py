"""The calibration experiment: a flow and a regression network trained on each of two training
sets that differ only in their energy prior (flat and log-uniform over the same range), then
applied to showers at fixed test energies. Per method, prior and test energy: the mode and median
of E_hat / E (the bias), the spread of E_hat / E (the resolution, half the 16-84 % interval), and
for the likelihood its own width (the -2 delta log L <= 1 interval) and asymmetry."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..files import DataError, json_text, output_folder
from .calibrate import build_flow, build_regression, maximum_likelihood, mode
from .features import energy_condition, read_calibration_set

PRIORS = ("flat", "log-uniform")
REGRESSION_SCALE_GEV = 100.0  # the regression's target: E / 100 GeV, for both priors


@dataclass(frozen=True)
class CalibrationConfig:
    segments: int
    flow_transforms: int
    flow_hidden: tuple[int, ...]
    flow_bins: int
    flow_epochs: int
    flow_batch: int
    flow_lr: float
    regression_hidden: tuple[int, ...]
    regression_epochs: int
    regression_batch: int
    regression_lr: float


# The authors' code: six layer energies; MAF of 6 rational-quadratic transforms (64 hidden, 8
# bins), 75 epochs; the regression 256-256-256, 200 epochs of batches of 200. (They also average
# 10 flows; one here.)
PAPER = CalibrationConfig(segments=6, flow_transforms=6, flow_hidden=(64, 64), flow_bins=8, flow_epochs=75,
                          flow_batch=256, flow_lr=1e-3, regression_hidden=(256, 256, 256), regression_epochs=200,
                          regression_batch=200, regression_lr=1e-3)
# Minutes on 2 cores.
SMALL = replace(PAPER, flow_epochs=25, regression_epochs=25, regression_batch=256)
CONFIGS = {"paper": PAPER, "small": SMALL}


def _fit(module: torch.nn.Module, loss_of, n: int, epochs: int, batch: int, lr: float, seed: int) -> list[float]:
    """Adam with a cosine schedule over shuffled batches of row indices; the mean loss per epoch."""
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    rng, curve = np.random.default_rng(seed), []
    for _ in range(epochs):
        order, total = rng.permutation(n), 0.0
        for k in range(0, n, batch):
            rows = torch.from_numpy(order[k:k + batch])
            loss = loss_of(rows)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
        schedule.step()
        curve.append(total / n)
    return curve


def train_flow(energy: np.ndarray, x: np.ndarray, config: CalibrationConfig, seed: int) -> tuple[object, list[float]]:
    torch.manual_seed(seed)
    flow = build_flow(x.shape[1], config.flow_transforms, config.flow_hidden, config.flow_bins)
    xs = torch.as_tensor(x, dtype=torch.float32)
    cs = torch.as_tensor(energy_condition(energy)[:, None], dtype=torch.float32)
    curve = _fit(flow, lambda rows: -flow(cs[rows]).log_prob(xs[rows]).mean(), len(xs), config.flow_epochs,
                 config.flow_batch, config.flow_lr, seed)
    return flow.eval(), curve


def train_regression(energy: np.ndarray, x: np.ndarray, config: CalibrationConfig, seed: int):
    """The network and its loss curve; it predicts E / REGRESSION_SCALE_GEV with the squared error."""
    torch.manual_seed(seed)
    net = build_regression(x.shape[1], config.regression_hidden)
    xs = torch.as_tensor(x, dtype=torch.float32)
    ys = torch.as_tensor(energy / REGRESSION_SCALE_GEV, dtype=torch.float32)
    curve = _fit(net, lambda rows: ((net(xs[rows])[:, 0] - ys[rows]) ** 2).mean(), len(xs), config.regression_epochs,
                 config.regression_batch, config.regression_lr, seed)
    return net.eval(), curve


def _summary(ratio: np.ndarray) -> dict:
    low, median, high = np.quantile(ratio, [0.16, 0.5, 0.84])
    return {"mode": mode(ratio), "median": float(median), "resolution": float((high - low) / 2)}


def run_experiment(flat: str | Path, log_uniform: str | Path, tests: list[str | Path], out: str | Path,
                   config: CalibrationConfig = SMALL, seed: int = 0, progress=print) -> dict:
    """Train on each prior, calibrate the test showers (grouped by their incident energy); write
    OUT/results.json and OUT/calibration.png."""
    training = {prior: read_calibration_set(path, config.segments, seed) for prior, path in zip(PRIORS, (flat, log_uniform))}
    ranges = {prior: (float(e.min()), float(e.max())) for prior, (e, _) in training.items()}
    if any(len(e) < 100 for e, _ in training.values()):
        raise DataError("each training file needs at least 100 showers")
    low, high = max(r[0] for r in ranges.values()), min(r[1] for r in ranges.values())
    if high <= low:
        raise DataError(f"the training files' energy ranges do not overlap: {ranges}")
    test_energy, test_x = map(np.concatenate, zip(*(read_calibration_set(p, config.segments, seed + 1) for p in tests)))
    # One affine map for every set (the first training set's mean and spread): it keeps the
    # features inside the splines' domain and moves no maximum (its Jacobian does not depend on E).
    centre, spread = training[PRIORS[0]][1].mean(0), training[PRIORS[0]][1].std(0) + 1e-9
    training = {prior: (e, (x - centre) / spread) for prior, (e, x) in training.items()}
    test_x = (test_x - centre) / spread
    levels = np.unique(np.round(test_energy, 6))
    if len(levels) > 50:
        raise DataError(f"the test files hold {len(levels)} distinct energies; expected showers at a few fixed energies "
                        "(`l1forge data showers --energy E`)")
    outside = levels[(levels < low) | (levels > high)]
    if len(outside):
        raise DataError(f"test energies {', '.join(f'{e:g}' for e in outside)} GeV lie outside the training range "
                        f"{low:g}-{high:g} GeV")
    results = {"config": asdict(config), "seed": seed, "training_ranges_gev": ranges, "scan_range_gev": [low, high],
               "test_energies_gev": levels.tolist(), "priors": {}}
    for prior, (energy, x) in training.items():
        start = time.perf_counter()
        flow, flow_curve = train_flow(energy, x, config, seed)
        net, regression_curve = train_regression(energy, x, config, seed)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        fit = maximum_likelihood(flow, test_x, (low, high))
        scan_seconds = time.perf_counter() - start
        with torch.no_grad():
            regressed = net(torch.as_tensor(test_x, dtype=torch.float32))[:, 0].numpy() * REGRESSION_SCALE_GEV
        rows = []
        for e in levels:
            at = np.isclose(test_energy, e)
            sigma = 0.5 * (fit["sigma_left"][at] + fit["sigma_right"][at])
            rows.append({"energy_gev": float(e), "showers": int(at.sum()),
                         "likelihood": {**_summary(fit["estimate"][at] / e),
                                        "likelihood_width": float(np.median(sigma) / e),
                                        "left_over_right": float(np.median(fit["sigma_left"][at] /
                                                                           np.maximum(fit["sigma_right"][at], 1e-12))),
                                        "at_range_edge": float(fit["at_range_edge"][at].mean())},
                         "regression": _summary(regressed[at] / e)})
        results["priors"][prior] = {"train_showers": len(energy), "train_seconds": seconds,
                                    "scan_seconds_per_shower": scan_seconds / len(test_x),
                                    "flow_nll": flow_curve, "regression_mse": regression_curve, "by_energy": rows}
        progress(f"{prior}: flow and regression trained in {seconds:.0f} s; " + ", ".join(
            f"{r['energy_gev']:g} GeV mode {r['likelihood']['mode']:.3f} / {r['regression']['mode']:.3f}" for r in rows))
    with output_folder(out) as folder:
        plot(results, folder / "calibration.png")
        (folder / "results.json").write_text(json_text(results))
    return results


def plot(results: dict, path: Path) -> None:
    """The mode of E_hat / E against E and the resolution against E, per method and prior."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for prior, style in zip(PRIORS, ("-", "--")):
        rows = results["priors"][prior]["by_energy"]
        e = [r["energy_gev"] for r in rows]
        for method, colour in (("likelihood", "C0"), ("regression", "C3")):
            axes[0].plot(e, [r[method]["mode"] for r in rows], style, color=colour, marker="o",
                         label=f"{method}, {prior} prior")
            axes[1].plot(e, [r[method]["resolution"] for r in rows], style, color=colour, marker="o",
                         label=f"{method} spread, {prior} prior")
        axes[1].plot(e, [r["likelihood"]["likelihood_width"] for r in rows], style, color="C2", marker="x",
                     label=f"likelihood width, {prior} prior")
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].set_ylabel("mode of E_hat / E")
    axes[1].set_ylabel("resolution (relative)")
    for ax in axes:
        ax.set_xlabel("incident energy [GeV]")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
