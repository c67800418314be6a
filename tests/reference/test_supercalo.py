"""SuperCalo: the coarse voxelisation and its inverse on known voxels, the neighbours at the edges,
the 31 conditions, upsampling that keeps every coarse energy, a brief training on generated
dataset-2 showers (losses fall, the evaluation and the variation study run), and the entry
point's errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.icaloflow.data import THRESHOLD_MEV, read_showers
from l1forge.reference.icaloflow.flows import build_teacher
from l1forge.reference.icaloflow.train import NetSpec
from l1forge.reference.supercalo.__main__ import main
from l1forge.reference.supercalo.coarse import (N_CONDITIONS, assemble, coarsen, conditions, fine_fractions,
                                                fine_groups, neighbours)
from l1forge.reference.supercalo.run import SMALL, Upsampler, run_experiment, uniform_upsampling, variation


def test_coarse_voxels_group_five_layers_and_two_angles():
    x = np.random.default_rng(0).uniform(size=(2, 45, 144))
    groups = fine_groups(x)
    assert groups.shape == (2, 648, 10)
    np.testing.assert_array_equal(assemble(groups), x)
    # Fine layer 7 = 5 * 1 + 2, angle 5 = 2 * 2 + 1, radius 3: coarse (layer 1, r 3, alpha 2) = 72 + 24 + 2,
    # inside it k = 2 * 2 + 1.
    assert groups[0, 98, 5] == x[0, 7, 5 * 9 + 3]
    np.testing.assert_allclose(coarsen(x).sum(1), x.sum((1, 2)))


def test_neighbours_stop_at_layers_and_radii_and_wrap_in_angle():
    coarse = np.arange(648, dtype=float)[None] + 1  # voxel i holds i + 1
    nb = neighbours(coarse)[0]
    index = lambda z, r, a: z * 72 + r * 8 + a  # noqa: E731
    v = index(1, 3, 2)
    assert list(nb[v]) == [index(1, 2, 2) + 1, index(1, 4, 2) + 1, index(0, 3, 2) + 1, index(2, 3, 2) + 1,
                           index(1, 3, 1) + 1, index(1, 3, 3) + 1]
    edge = index(0, 0, 0)
    assert nb[edge, 0] == 0 and nb[edge, 2] == 0  # no inner radius, no layer before
    assert nb[edge, 4] == index(0, 0, 7) + 1  # alpha wraps around
    assert nb[index(8, 8, 7), 1] == 0 and nb[index(8, 8, 7), 3] == 0


def test_conditions_hold_energy_layers_and_position():
    rng = np.random.default_rng(1)
    showers = rng.uniform(0, 10, (3, 45, 144))
    c = conditions(np.array([1e3, 1e4, 1e5]), showers.sum(-1), coarsen(showers))
    assert c.shape == (3, 648, N_CONDITIONS) and N_CONDITIONS == 31
    np.testing.assert_allclose(c[:, 0, 0], [-1.5, -0.5, 0.5])  # log10(E / MeV) - 4.5
    np.testing.assert_array_equal(c[0, :, 13:22].sum(1), 1)  # one radial one-hot
    assert c[0, 72 * 4 + 8 * 5 + 1, 13 + 5] == 1 and c[0, 72 * 4 + 8 * 5 + 1, 22 + 4] == 1


def test_upsampling_keeps_every_coarse_energy():
    rng = np.random.default_rng(2)
    showers = rng.uniform(1, 5, (2, 45, 144))
    torch.manual_seed(0)
    upsample = Upsampler(build_teacher(10, N_CONDITIONS, 1, 16, 1))  # untrained: any fractions
    fine = upsample(np.array([5e4, 2e5]), showers.sum(-1), coarsen(showers), seed=0)
    # Exact but for the readout cut: fine voxels below THRESHOLD_MEV are zeroed.
    lost = coarsen(showers) - coarsen(fine)
    assert np.all(lost >= -1e-9) and np.all(lost < 10 * THRESHOLD_MEV)
    assert np.mean(lost < 1e-9) > 0.8
    np.testing.assert_allclose(coarsen(uniform_upsampling(coarsen(showers))), coarsen(showers), rtol=1e-12)
    assert np.all(np.isfinite(fine_fractions(fine_groups(showers))))


@pytest.mark.slow  # about 1.5 min: MAF sampling of 648 voxels per shower is 10 passes of each block
def test_brief_training_on_generated_showers(ds2_showers, tmp_path):
    config = replace(SMALL, flow1=NetSpec(2, 32, 1, 200, 3e-3, 200), flow2=NetSpec(1, 64, 1, 150, 1e-3, 100),
                     upsampler=NetSpec(2, 32, 1, 200, 3e-3, 4096), train_fraction=0.7, variation_showers=3,
                     variation_draws=8)
    results = run_experiment(ds2_showers, tmp_path / "out", config, seed=0, limit=180, quiet=True)
    assert (tmp_path / "out" / "results.json").exists() and (tmp_path / "out" / "observables.png").exists()
    table = results["comparison"]
    assert set(table) == {"reference halves", "SuperCalo on true coarse", "uniform upsampling", "full chain"}
    # Upsampling from the true coarse voxels keeps the deposited energy; the full chain draws its own.
    assert table["SuperCalo on true coarse"]["e_ratio"] < 1e-3
    for key, value in results["variation"].items():
        assert 0 < value < 2, key
    # A deterministic upsampling gives the same fine shower every time: no variation at all.
    energy, showers = read_showers(ds2_showers, 20)
    still = variation(lambda e, layer, coarse, seed: uniform_upsampling(coarse), energy, showers, 3, 4, 0)
    assert all(v == 0 for v in still.values())
    assert results["seconds_per_shower"]["upsampling"] > 0
    for name, loss in results["final_loss"].items():
        assert np.isfinite(loss), name


def test_entry_point_errors(ds2_showers, tmp_path, capsys):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "o")]) == 2
    assert "no such shower file" in capsys.readouterr().err
    assert main(["run", "--data", str(ds2_showers), "--out", str(tmp_path / "o"), "--limit", "60"]) == 2
    assert "at least 50 for training and 50 for testing" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
