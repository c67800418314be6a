"""AdamMCMC reference: the proposal density and draw are the Gaussian they claim, the chain samples
its target exactly where the kernel is Markov (memoryless Adam), the uncertainty metrics on known
ensembles, the small experiment on generated jets (a learning signal and the paper's point: the
prolate proposal keeps accepting at small sigma), and the entry point's errors."""
from __future__ import annotations

import json
from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from l1forge.reference.adammcmc import AdamMCMC, binary_entropy, ensemble_metrics, run_experiment
from l1forge.reference.adammcmc.__main__ import main
from l1forge.reference.adammcmc.run import SMALL
from l1forge.reference.mcmc import gaussian_draw, gaussian_log_density


def test_proposal_density_is_the_rank_one_gaussian():
    rng = np.random.default_rng(0)
    for sigma, sigma_dir in ((0.3, 0.0), (0.3, 2.0), (1.7, 0.5)):
        u, mean, x = (torch.from_numpy(rng.normal(size=6)) for _ in range(3))
        cov = sigma ** 2 * np.eye(6) + sigma_dir ** 2 * np.outer(u, u)
        expected = multivariate_normal(mean.numpy(), cov).logpdf(x.numpy())
        assert gaussian_log_density(x, mean, sigma, u, sigma_dir) == pytest.approx(expected, rel=1e-10)


def test_proposal_draw_has_that_covariance():
    u = torch.tensor([3.0, 0.0, 4.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    draws = torch.stack([gaussian_draw(torch.zeros(3, dtype=torch.float64), 0.5, g, u, 0.4) for _ in range(40000)])
    cov = np.cov(draws.numpy().T)
    expected = 0.25 * np.eye(3) + 0.16 * np.outer(u, u)
    assert np.abs(cov - expected).max() < 0.05 * np.abs(expected).max()


class WithoutHastings(AdamMCMC):
    """The negative control: the Metropolis test without the proposal densities."""

    def proposal_log_ratio(self, theta, tau, u, u_back) -> float:
        return 0.0


def _gaussian_chain(sampler_class, sigma_dir: float) -> tuple[np.ndarray, float]:
    a = torch.tensor([1.0, 4.0])
    theta = torch.nn.Parameter(torch.tensor([0.5, -0.3]))
    sampler = sampler_class([theta], lr=0.1, betas=(0.0, 0.0), sigma=0.5 * np.sqrt(2), sigma_dir=sigma_dir, seed=3)
    kept = []
    for step in range(24000):
        sampler.step(lambda: 0.5 * (a * theta ** 2).sum())
        if step >= 2000:
            kept.append(theta.detach().numpy().copy())
    return np.array(kept), sampler.acceptance


@pytest.mark.parametrize("sigma_dir", [0.0, 2.0])
def test_chain_samples_its_target_when_the_kernel_is_markov(sigma_dir):
    """With betas 0 the Adam step depends on the current point only, the Metropolis-Hastings test
    is exact, and the chain's moments are the target's: N(0, diag(1, 1/4)) for the loss
    theta^T A theta / 2."""
    kept, acceptance = _gaussian_chain(AdamMCMC, sigma_dir)
    assert 0.5 < acceptance < 0.95
    assert np.abs(kept.mean(0)).max() < 0.08
    np.testing.assert_allclose(kept.var(0), [1.0, 0.25], rtol=0.1)


def test_without_the_proposal_densities_the_chain_is_biased():
    """So the test above can fail: the Adam drift unbalanced pulls the chain in (variance ~0.6)."""
    kept, _ = _gaussian_chain(WithoutHastings, 0.0)
    assert kept.var(0)[0] < 0.75


def test_uncertainty_metrics_on_known_ensembles():
    assert binary_entropy(np.array([0.5]))[0] == pytest.approx(np.log(2))
    agree = ensemble_metrics(np.tile([[0.9, 0.2, 0.6]], (5, 1)), np.array([1, 0, 0]))
    assert agree["mutual_information"] == pytest.approx(0.0, abs=1e-12)
    assert agree["predictive_entropy"] == pytest.approx(agree["expected_entropy"])
    assert agree["accuracy"] == pytest.approx(2 / 3) and agree["probability_std"] == 0.0
    split = ensemble_metrics(np.array([[1.0, 0.0], [0.0, 1.0]]))  # sure members that disagree
    assert split["mutual_information"] == pytest.approx(np.log(2), rel=1e-6)
    assert split["expected_entropy"] == pytest.approx(0.0, abs=1e-9) and "accuracy" not in split


@pytest.mark.tools  # the jets come from Pythia
def test_small_experiment_learns_and_prolate_accepts_at_small_sigma(jets_10k, tmp_path):
    config = replace(SMALL, sigmas=(0.03, 1.0), adam_epochs=6, burn_in=60, n_samples=4, thinning=15)
    results = run_experiment(jets_10k, tmp_path / "run", config, seed=0, progress=lambda _: None)
    stored = json.loads((tmp_path / "run" / "results.json").read_text())
    assert stored["chains"] == json.loads(json.dumps(results["chains"]))
    assert (tmp_path / "run" / "adammcmc.png").stat().st_size > 10_000
    assert results["adam"]["loss_curve"][-1] < results["adam"]["loss_curve"][0] - 0.05
    assert results["adam"]["test"]["accuracy"] > 0.7  # top vs QCD: chance is 0.6 (two QCD classes)
    small = {c["prolate"]: c for c in results["chains"] if c["sigma"] == 0.03}
    assert small[True]["acceptance"] > 0.2 > small[False]["acceptance"]
    for chain in results["chains"]:
        assert chain["test"]["members"] == 4 and chain["test"]["accuracy"] > 0.6


def test_entry_point_errors_are_one_line(tmp_path, capsys, ds2_showers):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r")]) == 2
    assert main(["run", "--data", str(ds2_showers), "--out", str(tmp_path / "r")]) == 2
    only_top = tmp_path / "top.h5"
    with h5py.File(only_top, "w") as f:
        f["jetConstituentList"] = np.ones((30, 20, 16), np.float32)
        f["particleFeatureNames"] = [n.encode() for n in ["x"] * 6 + ["j1_ptrel", "y", "j1_etarel", "z", "w",
                                                                      "j1_phirel"] + ["v"] * 5]
        f["jets"] = np.tile(np.eye(5, dtype=np.float32)[4], (30, 1))
        f["jetFeatureNames"] = [f"j_{c}".encode() for c in "gqwzt"]
    assert main(["run", "--data", str(only_top), "--out", str(tmp_path / "r")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "no such jet file" in lines[0] and "expected the jet layout" in lines[1]
    assert "needs top, QCD (g, q) and W/Z jets" in lines[2]
    assert not (tmp_path / "r").exists()
