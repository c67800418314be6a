"""Calibration by maximum likelihood: the scan finds the maximum and the -2 delta log L <= 1
interval of a known likelihood; on a toy whose resolution is known, the flow's estimate does not
depend on the training prior while the regression's does (the paper's point); the experiment on
generated showers; the entry point's errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.models.data.showers import generate_showers, shower_settings
from l1forge.reference.mle_calibration import (SMALL, energy_condition, maximum_likelihood, mode, run_experiment,
                                               train_flow, train_regression)
from l1forge.reference.mle_calibration.__main__ import main


class GaussianLikelihood:
    """p(x | E) = N(x; log10(E / 10 GeV), S^2): the estimate is 10 GeV x 10^x, the interval
    10^(x -+ S) in the same units."""

    S = 0.05

    def __call__(self, context):
        return torch.distributions.Independent(torch.distributions.Normal(context, self.S), 1)


def test_scan_finds_the_maximum_and_the_interval():
    x = np.array([[0.0], [0.5], [-0.6]])
    fit = maximum_likelihood(GaussianLikelihood(), x, (1.0, 100.0), coarse=300, fine=400)
    expected = 10 * 10 ** x[:, 0]
    np.testing.assert_allclose(fit["estimate"], expected, rtol=2e-3)
    np.testing.assert_allclose(fit["sigma_left"], expected * (1 - 10 ** -GaussianLikelihood.S), rtol=0.02)
    np.testing.assert_allclose(fit["sigma_right"], expected * (10 ** GaussianLikelihood.S - 1), rtol=0.02)
    assert not fit["at_range_edge"].any()
    assert mode(np.r_[np.full(50, 1.0), np.linspace(0.5, 1.5, 30)]) == pytest.approx(1.0, abs=0.03)


SPREAD = 0.3  # the toy's resolution, in ln E


def _toy_features(energy: np.ndarray, rng) -> np.ndarray:
    """One measurement of ln(E / 10 GeV) with a Gaussian error of SPREAD: the likelihood of E peaks
    at 10 GeV exp(x) whatever the prior; the posterior mean (what a regression learns) is
    exp(x + s^2 / 2) under a log-uniform prior and exp(x + 3 s^2 / 2) under a flat one: 9.4 % apart
    (away from the range's ends)."""
    return (np.log(energy / 10) + SPREAD * rng.normal(size=len(energy)))[:, None]


def _toy(prior: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """E on 5-100 GeV from the prior, and its feature."""
    energy = rng.uniform(5, 100, n) if prior == "flat" else np.exp(rng.uniform(np.log(5), np.log(100), n))
    return energy, _toy_features(energy, rng)


@pytest.mark.slow  # trains flows / networks for about a minute
def test_likelihood_is_prior_independent_where_regression_is_not():
    rng = np.random.default_rng(0)
    config = replace(SMALL, flow_epochs=40, regression_epochs=30, flow_transforms=3)
    test_energy = np.repeat([20.0, 50.0], 2000)
    test_x = _toy_features(test_energy, rng)
    exact = {e: np.median(10 * np.exp(test_x[test_energy == e, 0]) / e) for e in (20.0, 50.0)}  # the true MLE
    medians = {}
    for prior in ("flat", "log-uniform"):
        energy, x = _toy(prior, 20000, rng)
        flow, _ = train_flow(energy, x, config, seed=0)
        net, _ = train_regression(energy, x, config, seed=0)
        estimate = maximum_likelihood(flow, test_x, (5.0, 100.0))["estimate"]
        with torch.no_grad():
            regressed = net(torch.as_tensor(test_x, dtype=torch.float32))[:, 0].numpy() * 100
        for e in (20.0, 50.0):
            at = test_energy == e
            medians[prior, e] = (np.median(estimate[at] / e), np.median(regressed[at] / e))
            assert abs(medians[prior, e][0] - exact[e]) < 0.04, (prior, e, medians, exact)  # the flow's own error
    # measured: the regressions move by 0.106 / 0.086 with the prior, the likelihoods by 0.003 / 0.039
    shift_regression = np.mean([medians["flat", e][1] - medians["log-uniform", e][1] for e in (20.0, 50.0)])
    shift_likelihood = np.mean([abs(medians["flat", e][0] - medians["log-uniform", e][0]) for e in (20.0, 50.0)])
    assert shift_regression > 0.05 and shift_regression > 3 * shift_likelihood, medians
    assert energy_condition(np.array([10.0, 100.0])).tolist() == [0.0, 1.0]


def _showers(tmp_path, name: str, n: int, seed: int, **options) -> str:
    path = tmp_path / f"{name}.h5"
    generate_showers(n, seed, path, shower_settings("ds2", **options), workers=1, progress=False)
    return str(path)


@pytest.mark.slow  # trains flows / networks for about a minute
def test_experiment_on_generated_showers(tmp_path):
    flat = _showers(tmp_path, "flat", 2000, 0, energy="10,90", spectrum="flat")
    log_uniform = _showers(tmp_path, "log", 2000, 1, energy="10,90", spectrum="log-uniform")
    tests = [_showers(tmp_path, f"e{e}", 150, 2 + e, energy=str(e)) for e in (20, 60)]
    config = replace(SMALL, flow_epochs=20, flow_batch=64, regression_epochs=20, regression_batch=64)
    results = run_experiment(flat, log_uniform, tests, tmp_path / "run", config, progress=lambda _: None)
    assert (tmp_path / "run" / "calibration.png").is_file() and (tmp_path / "run" / "results.json").is_file()
    for prior in ("flat", "log-uniform"):
        rows = results["priors"][prior]["by_energy"]
        assert [r["energy_gev"] for r in rows] == pytest.approx([20.0, 60.0], rel=1e-5)
        for r in rows:  # both calibrate to within 10 %, with a resolution of a few percent
            assert abs(r["likelihood"]["median"] - 1) < 0.1 and abs(r["regression"]["median"] - 1) < 0.1
            assert 0.005 < r["likelihood"]["resolution"] < 0.2 and 0.005 < r["likelihood"]["likelihood_width"] < 0.2
        assert results["priors"][prior]["flow_nll"][-1] < results["priors"][prior]["flow_nll"][0]


def test_entry_point_errors_are_one_line(tmp_path, capsys, ild_showers):
    wide = _showers(tmp_path, "wide", 120, 0, energy="10,20", spectrum="flat")
    high = _showers(tmp_path, "high", 20, 1, energy="50")
    out = str(tmp_path / "r")
    assert main(["run", "--flat", str(tmp_path / "none.h5"), "--log-uniform", wide, "--test", wide, "--out", out]) == 2
    assert main(["run", "--flat", str(ild_showers), "--log-uniform", wide, "--test", wide, "--out", out]) == 2
    assert main(["run", "--flat", wide, "--log-uniform", wide, "--test", high, "--out", out]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "no such shower file" in lines[0] and "expected the CaloChallenge layout" in lines[1]
    assert "test energies 50 GeV lie outside the training range" in lines[2]
    assert not (tmp_path / "r").exists()
