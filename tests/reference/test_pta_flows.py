"""PTA flows reference: the Hellings-Downs curve and sky positions, the timing-model projection,
the simulator's covariance is the model's, the Woodbury likelihood equals the dense Gaussian, the
adaptive Metropolis chain samples a known target, the Hellinger distance on known cases, a learning
signal of the small flow, and the entry point's errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.pta_flows import (Likelihood, adaptive_metropolis, build_array, draw_prior, hellinger,
                                         hellings_downs, prior_bounds, simulate)
from l1forge.reference.pta_flows.__main__ import main
from l1forge.reference.pta_flows.array import sky_direction
from l1forge.reference.pta_flows.run import SMALL, evaluate, load_run, train


def test_hellings_downs_curve_and_sky_positions():
    def pair(angle_deg):
        a = np.radians(angle_deg)
        return hellings_downs(np.array([[1.0, 0, 0], [np.cos(a), np.sin(a), 0]]))

    assert pair(0)[0, 0] == 1.0 and pair(90)[1, 1] == 1.0  # the pulsar term on the diagonal
    assert pair(180)[0, 1] == pytest.approx(0.25)
    assert pair(1e-6)[0, 1] == pytest.approx(0.5, abs=1e-6)
    curve = [pair(a)[0, 1] for a in range(1, 180)]
    assert 75 < 1 + int(np.argmin(curve)) < 90 and min(curve) == pytest.approx(-0.152, abs=0.005)
    ra, dec = np.radians(7.5), np.radians(4 + 51 / 60)  # J0030+0451: 00h30m, +04d51m
    np.testing.assert_allclose(sky_direction("J0030+0451"), [np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra),
                                                             np.sin(dec)])
    assert sky_direction("J1909-3744")[2] < 0


def test_projection_removes_the_timing_model():
    array = build_array(n_toas=(30, 25), names=("J1909-3744", "J0030+0451"), n_freq=3, seed=2)
    for t, g in zip(array.toas, array.projectors):
        np.testing.assert_allclose(g.T @ g, np.eye(len(t) - 3), atol=1e-12)
        quadratic = 3e-6 - 2e-7 * t + 5e-8 * t ** 2
        assert np.abs(g.T @ quadratic).max() < 1e-18


def test_simulator_covariance_is_the_models():
    array = build_array(n_toas=(9, 8), names=("J1909-3744", "J0030+0451"), n_freq=2, seed=3)
    theta = np.array([-14.0, 3.0, -14.5, 2.0, -13.8, 5.0])
    draws = np.concatenate(simulate(array, np.tile(theta, (40000, 1)), np.random.default_rng(0)), axis=1)
    likelihood = Likelihood(array, [np.zeros(l) for l in array.lengths])
    phi_gw, phi_rn = array.phi(theta[0], theta[1]), array.phi(theta[2::2], theta[3::2])
    k = 2 * array.n_freq
    basis = np.zeros((sum(array.lengths), 2 * k))
    basis[:6, :k], basis[6:, k:] = array.bases
    phi = np.zeros((2 * k, 2 * k))
    for j in range(k):
        idx = likelihood.index[j]
        phi[np.ix_(idx, idx)] = phi_gw[j] * array.hd + np.diag(phi_rn[:, j])
    expected = np.eye(len(basis)) + basis @ phi @ basis.T
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    assert np.abs(np.cov(draws.T) - expected).max() / scale.max() < 0.03


def test_woodbury_likelihood_equals_the_dense_gaussian():
    array = build_array(n_toas=(20, 15, 25), names=("J1909-3744", "J2317+1439", "J0613-0200"), n_freq=4, seed=1)
    rng = np.random.default_rng(5)
    data = [d[0] for d in simulate(array, draw_prior(3, 1, rng), rng)]
    likelihood = Likelihood(array, data)
    bounds = prior_bounds(3)
    corners = np.where(rng.random((8, len(bounds))) < 0.5, bounds[:, 0], bounds[:, 1])  # loud and silent, steep and flat
    for theta in np.concatenate([draw_prior(3, 4, rng), corners]):
        assert likelihood(theta) == pytest.approx(likelihood.dense(theta), rel=1e-9)


def test_adaptive_metropolis_samples_a_known_target():
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    precision = np.linalg.inv(cov)
    bounds = np.array([[-20.0, 20.0], [-20.0, 20.0]])
    kept, acceptance = adaptive_metropolis(lambda x: -0.5 * x @ precision @ x, np.array([1.0, -1.0]), bounds,
                                           steps=60000, burn_in=10000, seed=0)
    assert 0.15 < acceptance < 0.7
    assert np.abs(kept.mean(0)).max() < 0.06
    np.testing.assert_allclose(np.cov(kept.T), cov, atol=0.06)


def test_hellinger_on_known_cases():
    rng = np.random.default_rng(0)
    bounds = np.array([[0.0, 1.0], [0.0, 1.0]])
    a = rng.uniform(0, 0.5, (5000, 2))
    assert hellinger(a, a, bounds) == pytest.approx(0.0, abs=1e-7)
    assert hellinger(a, a + 0.5, bounds) == pytest.approx(1.0)
    overlap = hellinger(a, np.column_stack([a[:, 0] + 0.25, a[:, 1]]), bounds)
    assert overlap == pytest.approx(np.sqrt(1 - 0.5), abs=0.02)  # half the bins shared, uniform mass


@pytest.mark.slow  # about a minute
def test_small_flow_learns_and_the_evaluation_runs(tmp_path):
    config = replace(SMALL, epochs=3, simulations=4000, mcmc_steps=3000, mcmc_burn_in=1000, flow_samples=3000,
                     test_points=((-13.5, 3.0),))
    summary = train(tmp_path / "run", config, progress=lambda _: None)
    curve = [c["validation"] for c in summary["curve"]]
    assert curve[-1] < curve[0]
    # learning signal: on fresh simulations the flow's posterior median of the amplitude follows the
    # truth (the prior alone would give no correlation)
    _, flow = load_run(tmp_path / "run")
    array = build_array(config.n_toas, span_years=config.span_years, n_freq=config.n_freq, seed=config.array_seed)
    rng = np.random.default_rng(7)
    theta = draw_prior(array.n_pulsars, 100, rng)
    data = simulate(array, theta, rng)
    medians = [np.median(flow.sample([torch.tensor(d[i:i + 1], dtype=torch.float32) for d in data], 200)[:, 0])
               for i in range(len(theta))]
    assert np.corrcoef(medians, theta[:, 0])[0, 1] > 0.5
    results = evaluate(tmp_path / "run", tmp_path / "eval", progress=lambda _: None)
    point = results["points"][0]
    prior_std = np.diff(prior_bounds(10)[:2], axis=1)[:, 0] / np.sqrt(12)
    assert point["mcmc_std"][0] < 0.3 * prior_std[0]  # a loud background: the exact posterior is narrow
    assert 0 <= point["hellinger_flow_mcmc"] <= 1 and point["mcmc_seconds"] > 0
    assert (tmp_path / "eval" / "posteriors.png").stat().st_size > 10_000


def test_entry_point_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", "--run", str(tmp_path / "none"), "--out", str(tmp_path / "e")]) == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"config": {"n_freq": 3}}')  # stale or foreign settings
    (broken / "flow.pt").write_bytes(b"")
    assert main(["evaluate", "--run", str(broken), "--out", str(tmp_path / "e")]) == 2
    (tmp_path / "file").write_text("")
    assert main(["train", "--out", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "not a trained run" in err[0] and "not a run this version can load" in err[1]
    assert "exists and is not a folder" in err[2]
    assert not (tmp_path / "e").exists() and (tmp_path / "file").read_text() == ""
