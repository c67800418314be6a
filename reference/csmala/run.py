"""The paper's comparison on its toy regression: for each sample size n, full MALA, naive stochastic
MALA and corrected stochastic MALA (zeta = 1 and centred) sample networks (each chain started from
the same Adam fit);
per method and n, over repetitions with fresh data: the credible ball's coverage of the true
function and its diameter, the risk of the posterior mean, the acceptance and the time."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..files import output_folder
from ..mcmc import is_kept
from .credible import credible_ball
from .sampler import METHODS, StochasticMALA
from .toy import evaluation_points, regression_net, toy_data, true_function


@dataclass(frozen=True)
class CsMALAConfig:
    sizes: tuple[int, ...]     # the sample sizes n
    repetitions: int           # fresh data sets per n
    widths: tuple[int, ...]
    noise: float               # of the data
    lambda_per_point: float    # lambda / n
    rho: float                 # Bernoulli batch probability
    step_lr: float             # the Langevin drift on the risk: h = step_lr / lambda
    prior_std: float
    fit_steps: int             # Adam steps on the full data before sampling
    burn_in: int
    n_samples: int
    thinning: int
    alpha: float = 0.05
    methods: tuple[str, ...] = METHODS


# The authors' public code: the MLP 1-100-100-1, noise 0.02, lambda = n, rho 0.1, a drift of 1e-4
# on the risk, 2000 fitting steps, 100,000 / rho burn-in steps, 20 networks 5,000 steps apart,
# 10 repetitions at n = 10,000. The n grid and the prior (N(0, 1) per weight; the code has none) are
# ours; the fit is Adam here (plain SGD there).
PAPER = CsMALAConfig(sizes=(1_000, 3_000, 10_000, 30_000), repetitions=10, widths=(100, 100), noise=0.02,
                     lambda_per_point=1.0, rho=0.1, step_lr=1e-4, prior_std=1.0, fit_steps=2000, burn_in=1_000_000,
                     n_samples=20, thinning=5000)
# Minutes on 2 cores: a 16-16 net, smaller n, far shorter chains (with a larger Langevin step).
SMALL = replace(PAPER, sizes=(100, 300, 1000), repetitions=4, widths=(16, 16), step_lr=3e-2, fit_steps=1500,
                burn_in=4000, n_samples=20, thinning=200)
CONFIGS = {"paper": PAPER, "small": SMALL}


def run_chain(config: CsMALAConfig, n: int, method: str, seed: int, net_state: dict, data, grid) -> dict:
    """One chain from a fitted network: the sampled functions on `grid` and the chain's figures."""
    x, y = data
    torch.manual_seed(seed)
    net = regression_net(config.widths)
    net.load_state_dict(net_state)
    lam = config.lambda_per_point * n
    sampler = StochasticMALA(net.parameters(), lambda rows: (net(x[rows]).squeeze(-1) - y[rows]) ** 2, n, method,
                             config.rho, config.step_lr / lam, lam, config.prior_std, seed)
    start = time.perf_counter()
    functions = []
    for step in range(config.burn_in + config.n_samples * config.thinning):
        sampler.step()
        if step == config.burn_in - 1:
            sampler.reset_acceptance()  # the acceptance reported is the kept part's
        if is_kept(step, config.burn_in, config.thinning):
            with torch.no_grad():
                functions.append(net(grid).squeeze(-1).numpy())
    return {"functions": np.array(functions), "acceptance": sampler.acceptance,
            "seconds": time.perf_counter() - start}


def fit(config: CsMALAConfig, data, seed: int) -> dict:
    x, y = data
    torch.manual_seed(seed)
    net = regression_net(config.widths)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(config.fit_steps):
        loss = ((net(x).squeeze(-1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.clone() for k, v in net.state_dict().items()}


def run_experiment(out: str | Path, config: CsMALAConfig = SMALL, seed: int = 0, progress=print) -> dict:
    """Every (n, method, repetition) chain; writes OUT/results.json and OUT/csmala.png."""
    grid_np = evaluation_points()
    grid, truth = torch.from_numpy(grid_np).unsqueeze(-1), true_function(grid_np)
    runs, example = [], None
    for n in config.sizes:
        for rep in range(config.repetitions):
            x, y = toy_data(n, config.noise, (seed, n, rep))
            data = (torch.from_numpy(x).unsqueeze(-1), torch.from_numpy(y))
            state = fit(config, data, seed + rep)
            for method in config.methods:
                chain = run_chain(config, n, method, seed + rep, state, data, grid)
                ball = credible_ball(chain["functions"], truth, config.alpha)
                runs.append({"n": n, "method": method, "repetition": rep, "acceptance": chain["acceptance"],
                             "seconds": chain["seconds"], **ball})
                if rep == 0 and n == config.sizes[0]:
                    example = example or {"n": n, "x": x.tolist(), "y": y.tolist(), "functions": {}}
                    example["functions"][method] = chain["functions"][:, ::50].tolist()
                progress(f"n {n} rep {rep} {method}: acceptance {chain['acceptance']:.2f}, diameter "
                         f"{ball['diameter']:.4f}, covered {ball['covered']}, risk {ball['risk']:.2e}")
    summary = []
    for n in config.sizes:
        for method in config.methods:
            rows = [r for r in runs if r["n"] == n and r["method"] == method]
            summary.append({"n": n, "method": method, "coverage": float(np.mean([r["covered"] for r in rows])),
                            "diameter": float(np.mean([r["diameter"] for r in rows])),
                            "diameter_std": float(np.std([r["diameter"] for r in rows])),
                            "risk": float(np.mean([r["risk"] for r in rows])),
                            "acceptance": float(np.mean([r["acceptance"] for r in rows])),
                            "seconds": float(np.mean([r["seconds"] for r in rows]))})
    results = {"config": asdict(config), "seed": seed, "summary": summary, "runs": runs, "example": example}
    with output_folder(out) as folder:
        plot(results, folder / "csmala.png")
        (folder / "results.json").write_text(json.dumps(results, indent=1))
    return results


def plot(results: dict, path: Path) -> None:
    """Diameter, coverage and risk against n per method, and the sampled functions of one data set."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    methods = results["config"]["methods"]
    for method in methods:
        rows = [r for r in results["summary"] if r["method"] == method]
        n = [r["n"] for r in rows]
        axes[0].errorbar(n, [r["diameter"] for r in rows], [r["diameter_std"] for r in rows], marker="o", label=method)
        axes[1].plot(n, [r["coverage"] for r in rows], marker="o", label=method)
        axes[2].plot(n, [r["risk"] for r in rows], marker="o", label=method)
    for ax, title in zip(axes, ("credible-ball diameter", f"coverage (nominal {1 - results['config']['alpha']:.2f})",
                                "risk of the posterior mean")):
        ax.set_xscale("log")
        ax.set_xlabel("n")
        ax.set_title(title)
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    axes[2].set_yscale("log")
    example = results["example"]
    grid = evaluation_points()[::50]
    axes[3].scatter(example["x"], example["y"], s=3, color="grey")
    for k_method, method in enumerate(methods):
        color = f"C{k_method}"
        for k, f in enumerate(example["functions"][method]):
            axes[3].plot(grid[grid < 0], np.array(f)[grid < 0], color=color, lw=0.5, alpha=0.4,
                         label=method if k == 0 else None)
            axes[3].plot(grid[grid > 0], np.array(f)[grid > 0], color=color, lw=0.5, alpha=0.4)
    axes[3].set_title(f"sampled networks, n = {example['n']}")
    axes[3].legend(fontsize=7)
    fig.suptitle("stochastic MALA on the toy regression")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
