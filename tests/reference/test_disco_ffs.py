"""DisCo-FFS reference: the distance correlation against its textbook definition and on known
cases, the fast candidate scoring against it, the confusion window, the metrics on known scores,
the selection finding a planted feature, the small experiment on generated jets (learning signal),
and the entry point's errors."""
from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from l1forge.reference.disco_ffs import (CandidateScorer, SelectionSettings, distance_correlation, metrics,
                                         rejection, run_experiment, select_features, window_blocks)
from l1forge.reference.disco_ffs.__main__ import main
from l1forge.reference.disco_ffs.classifier import auc, roc
from l1forge.reference.disco_ffs.run import SMALL
from l1forge.reference.disco_ffs.features import feature_table
from l1forge.reference.efp import efp_values
from l1forge.reference.jet_data import Jets


def _textbook(x, y) -> float:
    """Whitened by the symmetric inverse square root of the covariance, explicit double centring."""
    def whiten(v):
        v = v.reshape(len(v), -1) - v.reshape(len(v), -1).mean(0)
        values, vectors = np.linalg.eigh(v.T @ v / len(v))
        return v @ vectors @ np.diag(values ** -0.5) @ vectors.T

    def centred(v):
        d = np.linalg.norm(v[:, None] - v[None], axis=-1)
        return d - d.mean(0) - d.mean(1)[:, None] + d.mean()

    a, b = centred(whiten(x)), centred(whiten(y))
    return np.sqrt((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean()))


def test_distance_correlation_is_the_textbook_one_and_affinely_invariant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + rng.normal(size=400) > 0.5).astype(float)
    value = distance_correlation(x, y)
    assert value == pytest.approx(_textbook(x, y), rel=1e-10)
    mixed = x @ np.array([[2.0, 0.3, 0.0], [-1.0, 1.0, 0.5], [0.0, 0.2, 7.0]]) + 40.0
    assert distance_correlation(mixed, y) == pytest.approx(value, rel=1e-10)
    assert distance_correlation(y, y) == pytest.approx(1.0, rel=1e-12)
    assert distance_correlation(rng.normal(size=(2000, 2)), rng.integers(0, 2, 2000)) < 0.1 < 0.4 < value
    assert distance_correlation(np.c_[x, x[:, 0] - x[:, 1]], y) == 0.0  # dependent columns


def test_candidate_scores_equal_the_stacked_distance_correlation():
    rng = np.random.default_rng(1)
    selected = rng.normal(size=(500, 2)) * [1.0, 1e-6]  # units far apart: the scoring must not care
    y = (selected[:, 0] + rng.normal(size=500) > 0).astype(float)
    candidates = np.c_[rng.normal(size=500), 3 * y + rng.normal(size=500), np.exp(rng.normal(size=500)),
                       selected[:, 0] - 3e5 * selected[:, 1], np.ones(500)]
    scores = CandidateScorer(selected, y).scores(candidates)
    expected = [distance_correlation(np.c_[selected, c], y) for c in candidates.T]
    np.testing.assert_allclose(scores, expected, atol=2e-6)
    assert scores[3] == 0.0 and scores[4] == 0.0 and scores[1] > scores[0] + 0.1
    with pytest.raises(ValueError, match="0 or 1"):
        CandidateScorer(selected, y + 1)


def test_window_blocks():
    output = np.array([0.1, 0.4, 0.5, 0.8, 0.35, 0.69, 0.3, 0.7, 0.6])
    assert [b.tolist() for b in window_blocks(output, (0.3, 0.7), 2)] == [[1, 2], [4, 5]]  # 8 left over
    assert [b.tolist() for b in window_blocks(output, (0.3, 0.7), 10)] == [[1, 2, 4, 5, 8]]
    assert window_blocks(np.array([0.1, 0.9]), (0.3, 0.7), 2) == []


def test_roc_and_auc_against_counting():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    score = np.round(rng.normal(size=300) + y, 1)  # ties on purpose
    pairs = score[y == 1][:, None] - score[y == 0][None, :]
    assert auc(y, score) == pytest.approx(((pairs > 0).sum() + 0.5 * (pairs == 0).sum()) / pairs.size, rel=1e-12)
    background, signal = roc(y, score)
    for cut in (-0.5, 0.3, 1.2):  # every distinct threshold is a point: the fractions passing score >= cut
        k = np.flatnonzero(np.isclose(signal, (score[y == 1] >= cut).mean())
                           & np.isclose(background, (score[y == 0] >= cut).mean()))
        assert len(k) == 1
    assert (background[0], signal[0], background[-1], signal[-1]) == (0.0, 0.0, 1.0, 1.0)


def test_metrics_on_known_scores():
    y = np.array([0, 0, 0, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95])
    m = metrics(y, score, 0.5)
    assert m["auc"] == pytest.approx(7 / 8)
    assert m["rejection"] == pytest.approx(4.0)  # at eps_S 0.5 one background jet of four passes
    assert rejection(y, np.array([0, 0, 0, 0, 1, 1.0]), 0.5) == float("inf")


def test_feature_table_drops_constant_and_repeated_columns():
    rng = np.random.default_rng(3)
    n, m = 60, 8
    constituents = np.c_[rng.uniform(1, 30, (n * m, 1)), rng.normal(0, 0.3, (n * m, 2))].reshape(n, m, 3)
    jets = Jets(constituents, np.ones((n, m), bool), np.zeros(n, int), rng.normal(size=(n, 2)))
    table = feature_table(jets, ("jet mass", "jet pT"), 2, (1.0,), (0.5, 1.0))
    assert table.names[:2] == ["jet mass", "jet pT"] and table.n_initial == 2
    np.testing.assert_array_equal(table.values[:, :2], jets.jet)
    # 4 graphs x 2 betas: the edgeless graph is 1 (dropped twice); the double edge at beta 1/2 is
    # the single edge at beta 1, kept under the simpler name
    assert table.n_dropped == 3 and len(table.names) == 2 + 5
    assert "EFP n2 d1 (0-1) kappa=1 beta=1" in table.names
    assert "EFP n2 d2 (0-1,0-1) kappa=1 beta=0.5" not in table.names
    np.testing.assert_allclose(table.values[:, table.names.index("EFP n2 d1 (0-1) kappa=1 beta=1")],
                               np.log(efp_values(constituents, jets.mask, [((0, 1),)])[:, 0]), rtol=1e-12)


SETTINGS = SelectionSettings(n_select=2, window=(0.3, 0.7), block=512, hidden=(16,), first_epochs=15, epochs=15,
                             batch_size=256, lr=3e-3, signal_efficiency=0.5)


def _planted(n: int = 3000, seed: int = 2):
    """One initial feature, weakly informative; candidates: noise, and one column that separates
    the classes (and a monotonic copy of a noise column)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    initial = y + 2.0 * rng.normal(size=n)
    noise = rng.normal(size=(n, 5))
    informative = 1.5 * y + rng.normal(size=n)
    values = np.c_[initial, noise, np.exp(noise[:, 0]), informative]
    names = ["initial"] + [f"noise {k}" for k in range(5)] + ["exp noise 0", "informative"]
    order = rng.permutation(n)
    split = {"train": np.sort(order[:1800]), "val": np.sort(order[1800:2400]), "test": np.sort(order[2400:])}
    return values, names, y, split


def test_selection_finds_the_planted_feature():
    values, names, y, split = _planted()
    records = select_features(values, names, 1, y, split, SETTINGS, seed=0)
    assert records[0]["added"] == "informative"
    assert records[0]["score"] > records[0]["runner_up_score"] + 0.1
    assert records[1]["test"]["auc"] > records[0]["test"]["auc"] + 0.1
    # without it, nothing stands out (the control that the margin above means something)
    keep = [k for k, n in enumerate(names) if n != "informative"]
    control = select_features(values[:, keep], [names[k] for k in keep], 1, y, split, SETTINGS, seed=0)
    assert control[0]["score"] < records[0]["score"] - 0.1


@pytest.mark.tools  # the jets come from Pythia
def test_small_experiment_learns(jets_10k, tmp_path):
    config = replace(SMALL, max_degree=3, kappas=(0.5, 1.0, 2.0), betas=(0.5, 1.0, 2.0), retrainings=2,
                     selection=replace(SMALL.selection, n_select=3, first_epochs=20, epochs=20))
    results = run_experiment(jets_10k, tmp_path / "run", config, tasks=("top", "w"), progress=lambda _: None)
    assert (tmp_path / "run" / "results.json").is_file() and (tmp_path / "run" / "disco_ffs.png").is_file()
    # 9 graphs x 9 (kappa, beta), less: the edgeless graph (beta plays no part; constant 1 at kappa 1)
    # and the double edge at beta 1/2 and 1 (the single edge at beta 1 and 2), per kappa
    assert results["candidates"] == 9 * 9 - (2 + 2) - (3 + 2) - (2 + 2)
    for task in ("top", "w"):
        r = results["tasks"][task]
        assert len(r["records"]) == 4 and len(r["records"][-1]["features"]) == 5
        assert r["final"]["auc"]["mean"] > 0.75
        assert r["records"][-1]["test"]["auc"] > r["records"][0]["test"]["auc"] + 0.01  # EFPs add to m, pT
        assert r["full"]["auc"]["mean"] > 0.75


def test_entry_point_errors_are_one_line(tmp_path, capsys, ds2_showers):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r")]) == 2
    assert main(["run", "--data", str(ds2_showers), "--out", str(tmp_path / "r")]) == 2
    few = tmp_path / "few.h5"
    names = ["x"] * 6 + ["j1_ptrel", "y", "j1_etarel", "z", "w", "j1_phirel"] + ["v"] * 4
    with h5py.File(few, "w") as f:
        f["jetConstituentList"] = np.ones((30, 40, 16), np.float32)
        f["particleFeatureNames"] = [n.encode() for n in names]
        f["jets"] = np.c_[np.ones((30, 2)), np.tile(np.eye(5, dtype=np.float32)[4], (30, 1))]
        f["jetFeatureNames"] = [n.encode() for n in ["j_mass", "j_pt"] + [f"j_{c}" for c in "gqwzt"]]
    no_mass = tmp_path / "no_mass.h5"
    with h5py.File(few, "r") as f, h5py.File(no_mass, "w") as g:
        for key in ("jetConstituentList", "particleFeatureNames"):
            g[key] = f[key][:]
        g["jets"] = f["jets"][:, 1:]
        g["jetFeatureNames"] = f["jetFeatureNames"][1:]
    assert main(["run", "--data", str(few), "--out", str(tmp_path / "r")]) == 2
    assert main(["run", "--data", str(no_mass), "--out", str(tmp_path / "r")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines)
    assert "no such jet file" in lines[0] and "expected the jet layout" in lines[1]
    assert "needs at least 50 jets of each of g, q, w, t" in lines[2]
    assert "no column j_mass" in lines[3]
    assert not (tmp_path / "r").exists()
