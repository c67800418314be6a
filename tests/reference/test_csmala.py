"""Corrected stochastic MALA reference: each of the four chains samples exactly the marginal its
energy implies (checked against numerical integration on a one-parameter model where the four
differ), the credible ball on known ensembles, the toy data, the small experiment's pipeline and a
learning signal, and the entry point's errors."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.csmala import METHODS, StochasticMALA, credible_ball, toy_data, true_function
from l1forge.reference.csmala.__main__ import main
from l1forge.reference.csmala.run import SMALL, run_experiment
from l1forge.reference.csmala.toy import evaluation_points

Y = torch.tensor([-1.0, -0.5, 0.0, 0.3, 0.8, 1.5, 2.0, 2.5])
RHO, LAM, PRIOR = 0.3, 8.0, 1.5


def _exact_moments(method: str, zeta: float) -> tuple[float, float]:
    """Mean and variance of theta's stationary marginal for the mean model f = theta (per point
    factor as the sampler's docstring derives, times the N(0, PRIOR^2) prior), on a fine grid."""
    grid = np.linspace(-6, 7, 40001)
    loss = (Y.numpy()[None, :] - grid[:, None]) ** 2
    n = len(Y)
    if method == "full":
        log_density = -LAM / n * loss.sum(1)
    elif method == "naive":
        log_density = np.log((1 - RHO) + RHO * np.exp(-LAM * loss / (n * RHO))).sum(1)
    else:
        log_density = np.log((1 - RHO) + RHO ** (1 - zeta) * np.exp(-LAM * (2 - RHO) * loss / n)).sum(1)
    density = np.exp(log_density - log_density.max() - grid ** 2 / (2 * PRIOR ** 2))
    density /= density.sum()
    mean = float((grid * density).sum())
    return mean, float(((grid - mean) ** 2 * density).sum())


@pytest.mark.slow  # 4 x 12 s
@pytest.mark.parametrize("method, step_size", [("full", 0.01), ("naive", 1.0), ("corrected", 0.5), ("centred", 0.1)])
def test_chain_samples_the_marginal_its_energy_implies(method, step_size):
    theta = torch.nn.Parameter(torch.tensor([0.5]))
    sampler = StochasticMALA([theta], lambda rows: (Y[rows] - theta) ** 2, len(Y), method, RHO, step_size=step_size,
                             inverse_temperature=LAM, prior_std=PRIOR, seed=1)
    kept = []
    for step in range(80000):
        sampler.step()
        if step >= 1000:
            kept.append(theta.item())
    mean, var = _exact_moments(method, sampler.zeta)
    # the chain's own standard errors by batch means (20 batches, each far longer than the
    # autocorrelation), then agreement within 4 of them
    batches = np.array_split(np.array(kept), 20)
    means = np.array([b.mean() for b in batches])
    squares = np.array([((b - mean) ** 2).mean() for b in batches])
    se_mean, se_var = means.std() / math.sqrt(20), squares.std() / math.sqrt(20)
    assert abs(means.mean() - mean) < 4 * se_mean
    assert abs(squares.mean() - var) < 4 * se_var
    # and those errors are small against what separates the marginals (next test)
    assert 4 * se_var < 0.4 * var


def test_the_four_marginals_differ_beyond_the_tolerance():
    """So the test above (4 standard errors under 40 % of the variance) tells the energies apart:
    each variance differs from the others by more than a factor 1.7 (what 4 errors
    under 40 % need, whichever way the estimate errs) (centred: its zeta at the
    chains' start 0.5)."""
    theta = torch.nn.Parameter(torch.tensor([0.5]))
    zeta = StochasticMALA([theta], lambda rows: (Y[rows] - theta) ** 2, len(Y), "centred", RHO,
                          inverse_temperature=LAM).zeta
    variances = sorted([_exact_moments("full", 1.0)[1], _exact_moments("naive", 1.0)[1],
                        _exact_moments("corrected", 1.0)[1], _exact_moments("centred", zeta)[1]])
    assert all(b > 1.7 * a for a, b in zip(variances, variances[1:]))


def test_credible_ball_on_known_ensembles():
    truth = np.zeros(4)
    same = credible_ball(np.ones((10, 4)), truth)
    assert same["radius"] == 0.0 and same["diameter"] == 0.0 and not same["covered"] and same["risk"] == 1.0
    # members at +-d around 0: squared distances d^2 (constant), truth at the centre -> covered
    d = 0.3
    spread = credible_ball(np.array([[d] * 4, [-d] * 4] * 10), truth, alpha=0.05)
    assert spread["radius"] == pytest.approx(d ** 2) and spread["diameter"] == pytest.approx(2 * d)
    assert spread["covered"] and spread["risk"] == pytest.approx(0.0)
    assert not credible_ball(np.array([[d] * 4, [-d] * 4] * 10), truth + 2 * d)["covered"]


def test_toy_data_is_the_papers_two_intervals():
    x, y = toy_data(2000, 0.02, seed=0)
    assert (x[:1000] >= -0.8).all() and (x[:1000] <= -0.2).all() and (x[1000:] >= 0.2).all() and (x[1000:] <= 0.8).all()
    residual = y - true_function(x)
    assert abs(residual.std() - 0.02) < 0.002 and abs(residual.mean()) < 0.002
    assert true_function(np.array([-0.5]))[0] == 0.0 and true_function(np.array([0.2]))[0] == pytest.approx(0.5)


def test_small_experiment_pipeline(tmp_path):
    config = replace(SMALL, sizes=(60, 600), repetitions=1, burn_in=400, n_samples=10, thinning=20)
    results = run_experiment(tmp_path, config, progress=lambda _: None)
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["summary"] == results["summary"] and len(results["runs"]) == 2 * len(METHODS)
    assert (tmp_path / "csmala.png").stat().st_size > 10_000
    rows = {(r["n"], r["method"]): r for r in results["summary"]}
    # learning signal: at n = 600 full MALA's posterior mean is far closer to the truth than a
    # constant is (the variance of f over the evaluation points; at n = 60 a 16-16 net fits one
    # data set or another far less well); the stochastic chains may wander (the naive surrogate is
    # nearly flat far out: the paper's point)
    variance = true_function(evaluation_points()).var()
    assert rows[(600, "full")]["risk"] < 0.25 * variance
    # the full chain's ball shrinks with n
    assert rows[(600, "full")]["diameter"] < rows[(60, "full")]["diameter"]
    assert all(0.0 < r["acceptance"] <= 1.0 for r in results["summary"] if r["method"] == "full")


def test_entry_point_errors_are_one_line(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path / "r"), "--sizes", "1"]) == 2
    (tmp_path / "file").write_text("")
    assert main(["run", "--out", str(tmp_path / "file"), "--sizes", "20", "--repetitions", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: --sizes must be at least 2 points, got 1", f"error: {tmp_path / 'file'}: exists and is not a folder"]
    assert not (tmp_path / "r").exists() and (tmp_path / "file").read_text() == ""
    with pytest.raises(SystemExit):  # argparse's own refusal (usage and the reason, exit 2)
        main(["run", "--out", str(tmp_path / "r"), "--repetitions", "0"])
    assert "must be >= 1, got 0" in capsys.readouterr().err and not (tmp_path / "r").exists()
