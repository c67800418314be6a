"""R-ANODE: the significance improvement on known score sets; the preprocessing and the mass
density; on a toy whose background ignores m_jj and whose signal is a narrow bump, the learned
signal fraction approaches the truth and R-ANODE finds the signal; the whole experiment on a toy
file; the entry point's errors."""
from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch

from l1forge.reference.ranode.__main__ import main
from l1forge.reference.ranode.data import (Preprocessing, injection_for_significance, make_experiment, read_dijets,
                                           signal_pools, sr_coordinate)
from l1forge.reference.ranode.model import MassDensity, Mixture, signal_flow
from l1forge.reference.ranode.run import MIN_TEST_BACKGROUND, SMALL, max_sic, run_experiment, sic_curve, train_ranode

NAMES = ("mjj", "mj1", "mj2", "tau21_j1", "tau21_j2", "pt_j1", "pt_j2", "mhat")


def _toy_rows(kind: str, n: int, rng) -> np.ndarray:
    """Toy dijets: QCD-like background whose jet features ignore m_jj (so a flow learns p(x | m)
    easily), signal a narrow bump at m_jj 3.5 TeV with m_J 0.1 and 0.5 TeV and low tau21."""
    if kind == "signal":
        mjj = rng.normal(3.5, 0.08, n)
        mj1, mj2 = rng.normal(0.1, 0.01, n), rng.normal(0.5, 0.03, n)
        tau = rng.beta(2, 6, (n, 2))
    else:
        mjj = 2.6 + rng.exponential(0.6, n) if kind == "background" else rng.uniform(3.3, 3.7, n)
        mj1 = rng.uniform(0.03, 0.6, n)
        mj2 = mj1 + rng.uniform(0.0, 0.6, n)
        tau = rng.beta(3, 1.5, (n, 2))
    pt = np.full(n, 1.3)
    return np.column_stack([mjj, mj1, mj2, tau, pt, pt, mjj]).astype(np.float32)


def write_toy(path, n_background=20000, n_signal=2000, n_sr=4000, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for kind, n in (("background", n_background), ("signal", n_signal), ("sr_background", n_sr)):
            f.create_dataset(kind, data=_toy_rows(kind, n, rng))
        f.attrs["feature_names"] = np.array(NAMES, dtype="S")
    return path


def test_sic_on_known_scores():
    truth = np.r_[np.ones(10), np.zeros(1000)]
    perfect = np.r_[np.full(10, 2.0), np.linspace(0, 1, 1000)]
    tpr, fpr, sic, passing = sic_curve(perfect, truth)
    assert tpr[0] == 1 and fpr[0] == 0 and passing[0] == 0  # the tied signal scores pass together
    # With every signal event first, SIC = 1 / sqrt(FPR), largest at the fewest background events allowed
    # (counted as integers: 25 of 97 is allowed although 25 / 97 * 97 < 25 in floating point).
    assert max_sic(perfect, truth) == pytest.approx(1 / np.sqrt(MIN_TEST_BACKGROUND / 1000))
    few = np.r_[np.ones(10), np.zeros(97)]
    assert max_sic(np.r_[np.full(10, 2.0), np.linspace(0, 1, 97)], few) == pytest.approx(np.sqrt(97 / 25))
    # One score for all: one threshold, everything passes, SIC 1.
    assert max_sic(np.zeros(107), few) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="needs at least 25"):
        max_sic(np.r_[np.ones(10), np.zeros(20)], np.r_[np.ones(10), np.zeros(20)])
    # Scores that ignore the label: SIC = sqrt(eff) <= 1 on average.
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 20000)
    assert max_sic(rng.uniform(size=20000), truth) < 1.2
    with pytest.raises(ValueError, match="both signal and background"):
        sic_curve(np.ones(3), np.ones(3))


def test_preprocessing_and_mass_density():
    rng = np.random.default_rng(1)
    x = rng.uniform([0, 0, 0, 0], [1, 2, 3, 4], (5000, 4))
    prep = Preprocessing(x)
    z = prep(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-4)
    assert prep.inside(x).all() and not prep.inside(np.array([[5.0, 0.5, 0.5, 0.5]])).any()
    assert np.all(np.diff(prep(np.linspace([0.1] * 4, [0.9] * 4, 7)), axis=0) > 0)  # monotone
    u = sr_coordinate(rng.uniform(3.3, 3.7, 20000))
    density = MassDensity(u)
    grid = np.linspace(-2, 2, 40001)
    assert np.trapezoid(np.exp(density.log_prob(grid)), grid) == pytest.approx(1.0, abs=1e-3)
    assert np.exp(density.log_prob(np.array([0.0]))) == pytest.approx(0.25, rel=0.1)  # uniform over 4 units


def test_injection_hits_the_asked_significance(tmp_path):
    events = read_dijets(write_toy(tmp_path / "toy.h5"))
    pool, test_signal = signal_pools(events, 0)
    n = injection_for_significance(events, pool, 2.0)
    experiment, _ = make_experiment(events, pool, test_signal, n)
    assert experiment.significance == pytest.approx(2.0, rel=0.15)
    assert experiment.true_w == pytest.approx(experiment.signal_in_sr / len(experiment.signal_region))
    assert experiment.test.truth.sum() > 0 and (experiment.test.truth == 0).sum() == 2000
    # Smaller injections are subsets of larger ones.
    small, _ = make_experiment(events, pool, test_signal, n // 2)
    assert small.signal_in_sr <= experiment.signal_in_sr
    with pytest.raises(ValueError, match="injection pool holds"):
        injection_for_significance(events, pool, 1e4)


@pytest.mark.slow  # ~30 s of flow training
def test_mixture_with_an_exact_background_learns_w_and_finds_the_signal():
    """Background density known exactly (standard normal in u and x), signal a narrow blob: the
    learned w moves from its start (< 1 %) towards the truth (5 %) and the signal density ranks
    signal above background."""
    rng = np.random.default_rng(3)
    n_bg, n_sig = 6000, 300
    bg = rng.normal(size=(n_bg, 5))
    sig = rng.normal(1.5, 0.15, size=(n_sig, 5))
    ux = np.concatenate([bg, sig]).astype(np.float32)
    log_bg = torch.distributions.Normal(0, 1).log_prob(torch.from_numpy(ux)).sum(1).numpy()
    config = replace(SMALL, signal_epochs=30, batch=64, keep_epochs=3)  # ~3,000 steps: theta can travel 3 units
    mixture, fitted, ws = train_ranode(ux, log_bg, None, config, seed=0)
    true_w = n_sig / (n_bg + n_sig)
    assert 0.5 * true_w < np.median(ws) < 1.5 * true_w
    assert fitted.val_loss[-1] < fitted.val_loss[0]
    test = np.concatenate([rng.normal(size=(3000, 5)), rng.normal(1.5, 0.15, size=(300, 5))]).astype(np.float32)
    truth = np.r_[np.zeros(3000), np.ones(300)]
    with torch.no_grad():
        score = mixture.flow().log_prob(torch.from_numpy(test)).numpy()
    score -= torch.distributions.Normal(0, 1).log_prob(torch.from_numpy(test)).sum(1).numpy()
    assert max_sic(score, truth) > 5
    fixed = Mixture(signal_flow(1, (8,), 4), 0.02, 0.005)
    assert float(fixed.w) == pytest.approx(0.02) and not any(p is fixed.theta for p in fixed.parameters())


@pytest.mark.slow  # ~40 s: two injections, every method
def test_experiment_on_a_toy_file(tmp_path):
    data = write_toy(tmp_path / "toy.h5")
    config = replace(SMALL, significances=(1.0, 4.0), background_epochs=8, signal_epochs=15, keep_epochs=3,
                     iad_models=2)
    results = run_experiment(data, tmp_path / "out", config, seed=0, log=lambda _: None)
    assert (tmp_path / "out" / "results.json").exists() and (tmp_path / "out" / "sic.png").exists()
    strong = results["injections"][-1]
    assert strong["s_over_sqrt_b"] == pytest.approx(4.0, rel=0.15)
    ceiling = 1 / np.sqrt(MIN_TEST_BACKGROUND / strong["test"]["background"])  # every signal event above 25 background
    assert results["supervised"] > 0.9 * ceiling  # the toy's signal is easy to tell apart with labels
    for name in ("R-ANODE (fixed w)", "R-ANODE (learned w)", "ANODE", "IAD"):
        assert strong["max_sic"][name][0] > 3, name  # well above the ~1 of a blind cut


def test_entry_point_errors(tmp_path, capsys):
    assert main(["run", "--data", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o")]) == 2
    assert "no such dijet file" in capsys.readouterr().err
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("background", data=np.zeros((10, 8), np.float32))
        f.attrs["feature_names"] = np.array(NAMES, dtype="S")
    assert main(["run", "--data", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "no signal, sr_background events" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
