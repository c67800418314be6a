"""Flow matching beyond kinematics: the JetClass-like reader (13 features in the authors' order,
|eta_rel| <= 1, conditions), the authors' post-processing, the metrics on known cases (a sample
against itself, against one with displaced tracks or swapped identities), a short training that
lowers the loss and beats the untrained network, and one-line errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from l1forge.reference.beyond_kinematics import FEATURES, discretize, read_particle_jets
from l1forge.reference.beyond_kinematics.__main__ import main
from l1forge.reference.beyond_kinematics.data import CHARGE, D0, PID
from l1forge.reference.beyond_kinematics.run import (SMALL, categorical_kl, charge_agrees, evaluate, particle_kls,
                                                     run_experiment, sample, train)
from l1forge.reference.epic_jedi_fm.data import Clouds

pytestmark = pytest.mark.tools  # the jets come from Pythia
PT = 2  # the pT_rel column
EPOCHS = 100  # of 5 batches of 64
# The features a short training learns (the per-class mass divergence, on ~18 test jets per class,
# is noise; the impact-parameter errors converge slowly).
LEARNED = ("eta_rel", "pt_rel", "charge", "identity", "d0_significance", "dz_significance")


@pytest.fixture(scope="module")
def jets(jetclass_sample):
    return read_particle_jets(jetclass_sample, 64)


def test_reader_gives_the_13_features_and_the_conditions(jets, jetclass_sample):
    x, mask = jets.clouds.particles, jets.clouds.mask
    assert x.shape == (420, 64, 13) and FEATURES[:3] == ("eta_rel", "phi_rel", "pt_rel")
    real = x[mask]
    assert np.all(np.abs(real[:, 0]) <= 1) and np.all(real[:, PT] > 0) and np.all(x[~mask] == 0)
    assert np.all(real[:, 8:].sum(1) == 1)
    assert np.all(mask[:, :-1] >= mask[:, 1:])
    cond = jets.clouds.jet
    assert cond.shape == (420, 7 + 2) and np.array_equal(np.argmax(cond[:, :7], 1), jets.label)
    assert np.all((cond[:, 7] >= 500) & (cond[:, 7] < 1000)) and np.all(np.abs(cond[:, 8]) < 2)
    # The scalar sum of pT_rel: a little above 1 for a whole jet (the vector sum is the jet's pT),
    # less where the leading 64 within |eta_rel| <= 1 leave particles out.
    total = x[..., PT].sum(1)
    assert np.all(total < 1.1) and 0.99 < np.median(total) < 1.02


def test_discretize_as_the_authors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 10, 13)).astype(np.float32)
    mask = rng.random((50, 10)) < 0.7
    out = discretize(x, mask, (1e-3, 0.8))
    real = out[mask]
    assert np.all(real[:, 8:].sum(1) == 1) and np.array_equal(np.argmax(real[:, 8:], 1), np.argmax(x[mask][:, 8:], 1))
    assert set(np.unique(real[:, CHARGE])) <= {-1.0, 0.0, 1.0}
    assert real[:, PT].min() >= 1e-3 and real[:, PT].max() <= 0.8
    assert np.all(out[~mask] == 0) and np.array_equal(real[:, 3:7], x[mask][:, 3:7])


def test_metrics_on_known_cases(jets):
    half = len(jets) // 2
    a, b = jets.select(np.arange(half)), jets.select(np.arange(half, len(jets)))
    pt = a.clouds.jet[:, 7]
    same = particle_kls(a.clouds, a.clouds, pt, pt)
    assert max(same.values()) < 1e-6
    # Every track displaced by 3 sigma in d0: the d0 significance tells it, the kinematics do not.
    moved = a.clouds.particles.copy()
    moved[..., D0] += 3 * moved[..., D0 + 1]
    shifted = particle_kls(a.clouds, Clouds(moved, a.clouds.mask, a.clouds.jet), pt, pt)
    assert shifted["d0_significance"] > 0.5 and shifted["pt_rel"] < 1e-6
    # Photons relabelled as neutral hadrons: the identity divergence and the charge agreement stay
    # right (neutral either way), a flipped charge breaks the agreement.
    swapped = a.clouds.particles.copy()
    photon = swapped[..., 8 + PID.index("photon")] == 1
    swapped[photon, 8 + PID.index("photon")], swapped[photon, 8 + PID.index("neutral_hadron")] = 0, 1
    assert particle_kls(a.clouds, Clouds(swapped, a.clouds.mask, a.clouds.jet), pt, pt)["identity"] > 0.3
    assert charge_agrees(a.clouds.particles[a.clouds.mask]) == 1.0
    flipped = a.clouds.particles[a.clouds.mask].copy()
    flipped[:, CHARGE] = np.where(flipped[:, CHARGE] == 0, 1, 0)
    assert charge_agrees(flipped) == 0.0
    assert categorical_kl(np.array([0, 1, 1, 2]), np.array([0, 1, 1, 2]), range(3)) == pytest.approx(0, abs=1e-6)
    # Two halves of one sample: small divergences, an AUC near chance.
    halves = evaluate(a, b, seed=0)
    assert halves["kl_mean_over_classes"]["pt_rel"] < 0.1 and 0.4 < halves["classifier_auc"] < 0.62


def test_short_training_learns(jets):
    config = replace(SMALL, flow=replace(SMALL.flow, epochs=EPOCHS, batch_size=64, warmup_steps=20, hidden=32, layers=2,
                                         fm_steps=20))
    train_jets, test = jets.select(np.arange(300)), jets.select(np.arange(300, len(jets)))
    model, scaler, curve, _ = train(train_jets, config, seed=0)
    assert np.mean(curve[-3:]) < 0.7 * np.mean(curve[:2])
    untrained, _, _, _ = train(train_jets, replace(config, flow=replace(config.flow, epochs=0)), seed=0)
    scores = [evaluate(test, sample(m, scaler, test, config, (1e-4, 1.0), seed=1)[0], seed=0)
              for m in (model, untrained)]
    for key in LEARNED:
        assert scores[0]["kl_mean_over_classes"][key] < 0.5 * scores[1]["kl_mean_over_classes"][key], (key, scores)
    assert scores[0]["charge_agrees_with_identity"] > scores[1]["charge_agrees_with_identity"] + 0.2


def test_run_writes_results(jetclass_sample, tmp_path):
    config = replace(SMALL, flow=replace(SMALL.flow, epochs=2, hidden=16, layers=1, fm_steps=4))
    results = run_experiment(jetclass_sample, tmp_path / "run", config, progress=lambda _: None)
    assert results["jets"] == {"train": 294, "test": 126} and len(results["classes"]) == 7
    assert (tmp_path / "run" / "results.json").is_file() and (tmp_path / "run" / "beyond_kinematics.png").is_file()
    assert (tmp_path / "run" / "model.pt").is_file()


def test_entry_point_errors_are_one_line(tmp_path, capsys, jet_sample):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r")]) == 2
    assert main(["run", "--data", str(jet_sample), "--out", str(tmp_path / "r")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "no such JetClass-like jet file" in lines[0] and "expected the JetClass-like layout" in lines[1]
    assert not (tmp_path / "r").exists()
