"""iCaloFlow reference: the MADE masks are autoregressive, the preprocessing inverts, the teacher
is a flow (its two directions are inverses), distillation makes the student follow the teacher,
layer-by-layer generation keeps the layer energies, the metric on known cases, the entry point."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.icaloflow.__main__ import main
from l1forge.reference.icaloflow.data import (LAYER_SCALE_MEV, THRESHOLD_MEV, Prepared, layer_energies_from_features,
                                              layer_energy_features, read_showers, voxel_features, voxels_from_features,
                                              write_showers)
from l1forge.reference.icaloflow.evaluate import compare, distances, observables
from l1forge.reference.icaloflow.flows import MADE, AffineIAF, build_teacher, distillation_loss, teacher_to_noise
from l1forge.reference.icaloflow.generate import generate_showers, student_sampler, teacher_sampler
from l1forge.reference.icaloflow.train import SMALL, NetSpec, Run, train_run


@pytest.mark.parametrize("layers", [1, 2])
def test_made_outputs_see_only_earlier_features(layers):
    torch.manual_seed(0)
    order = torch.randperm(7)
    made = MADE(order, context=2, hidden=16, layers=layers)
    for p in made.parameters():
        p.data.normal_(0.0, 0.3)  # small: the scale head stays inside its clamp
    z, c = torch.randn(256, 7, requires_grad=True), torch.randn(256, 2, requires_grad=True)
    rank = torch.empty(7, dtype=torch.long)
    rank[order] = torch.arange(7)
    for head in (0, 1):
        for i in range(7):
            grad_z, grad_c = torch.autograd.grad(made(z, c)[head][:, i].sum(), (z, c), allow_unused=True)
            sees = torch.zeros(7, dtype=torch.bool) if grad_z is None else (grad_z != 0).any(0)
            assert not sees[rank >= rank[i]].any()  # never itself or a later feature
            if rank[i] > 0:  # with dense random weights it sees every earlier one and the condition
                assert sees[rank < rank[i]].all() and (grad_c != 0).any(0).all()


def test_preprocessing_inverts():
    rng = np.random.default_rng(0)
    layers = rng.uniform(0.05, 0.9 * LAYER_SCALE_MEV, (50, 45))
    np.testing.assert_allclose(layer_energies_from_features(layer_energy_features(layers)), layers, rtol=1e-6)
    voxels = rng.exponential(1.0, (50, 144)) * (rng.random((50, 144)) < 0.5)
    total = voxels.sum(-1)
    back = voxels_from_features(voxel_features(voxels), total)
    np.testing.assert_allclose(back[voxels >= THRESHOLD_MEV], voxels[voxels >= THRESHOLD_MEV], rtol=1e-4)
    assert (back[voxels < THRESHOLD_MEV] < THRESHOLD_MEV).all()


def test_teacher_directions_are_inverses_and_sampling_is_autoregressive():
    torch.manual_seed(0)
    teacher = build_teacher(5, 2, blocks=2, hidden=16, layers=2)
    c = torch.randn(64, 2)
    with torch.no_grad():
        x = teacher(c).sample()
        np.testing.assert_allclose(teacher(c).transform.inv(teacher_to_noise(teacher, x, c)).numpy(), x.numpy(), atol=1e-4)


def test_distillation_follows_the_teacher():
    """A student distilled from a fixed teacher maps the teacher's noise of data back to the data
    far better than an untrained student, and its samples map back to their noise."""
    torch.manual_seed(0)
    teacher = build_teacher(4, 1, blocks=2, hidden=16, layers=1).requires_grad_(False)
    c = torch.rand(4096, 1)
    with torch.no_grad():
        x = teacher(c).sample()
    student = AffineIAF(4, 1, blocks=2, hidden=32, layers=1)
    before = distillation_loss(student, teacher, x, c)[1]
    opt = torch.optim.Adam(student.parameters(), lr=3e-3)
    for step in range(400):
        i = torch.randint(0, len(x), (256,))
        loss = distillation_loss(student, teacher, x[i], c[i])[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = distillation_loss(student, teacher, x, c)[1]
    assert after["x_loss"] < 0.2 * before["x_loss"] and after["z_loss"] < 0.2 * before["z_loss"]


@pytest.fixture(scope="module")
def tiny_run(ds2_showers, tmp_path_factory):
    spec = NetSpec(blocks=2, hidden=16, layers=1, steps=120, max_lr=3e-3, batch=256)
    config = replace(SMALL, teacher={1: spec, 2: spec, 3: spec}, student={1: spec, 2: spec, 3: spec})
    run = tmp_path_factory.mktemp("icf") / "run"
    summary = train_run(ds2_showers, run, config, seed=0, quiet=True)
    return run, summary


def test_small_config_learns(tiny_run):
    _, summary = tiny_run
    for flow in ("1", "2", "3"):
        s = summary["flows"][flow]
        assert s["teacher_curve"][-1] < s["teacher_curve"][0] - 1.0  # the NLL falls
        assert s["student_curve"][-1] < 0.5 * s["student_curve"][0]
        assert np.isfinite(s["held_out"]["teacher_nll_per_dim"])


def test_generation_keeps_flow1_energies_and_the_layout(tiny_run, ds2_showers, tmp_path):
    run = Run(tiny_run[0])
    energy = read_showers(ds2_showers)[0][:20]
    for sampler in (student_sampler(run, 3), teacher_sampler(run, 3)):
        showers, seconds = generate_showers(sampler, energy, seed=3)
        assert showers.shape == (20, 45, 144) and (showers >= 0).all() and set(seconds) == {1, 2, 3}
        assert ((showers == 0) | (showers >= THRESHOLD_MEV)).all()
    # the layer sums are Flow-1's layer energies, less the voxels cut below threshold
    rows = []
    run.students[1].requires_grad_(False)

    def recording(flow, context):
        out = student_sampler(run, 3)(flow, context)
        if flow == 1:
            rows.append(out)
        return out
    showers, _ = generate_showers(recording, energy, seed=3)
    flow1 = layer_energies_from_features(rows[0].astype(np.float64))
    assert (showers.sum(2) <= flow1 * (1 + 1e-9)).all()
    assert np.isclose(showers.sum(2), flow1, rtol=1e-6).mean() > 0.5
    write_showers(tmp_path / "gen.h5", energy, showers)
    e, back = read_showers(tmp_path / "gen.h5")
    np.testing.assert_allclose(back, showers, rtol=1e-6)


def test_metric_sees_only_what_differs(ds2_showers):
    energy, showers = read_showers(ds2_showers)
    ref = observables(energy[:150], showers[:150])
    same = observables(energy[150:], showers[150:])
    narrow = showers[150:].copy()
    narrow[:, :, :] = narrow.reshape(150, 45, 16, 9)[..., ::-1].reshape(150, 45, 144) * 1.3  # radii reversed, 30 % more energy
    table = compare(ref, {"same": same, "changed": observables(energy[150:], narrow)})
    assert table["same"]["classifier_auc"] < 0.7 < 0.95 < table["changed"]["classifier_auc"]
    assert table["changed"]["e_ratio"] > 10 * table["same"]["e_ratio"]
    assert table["changed"]["width_x_l20"] > 5 * table["same"]["width_x_l20"]


def test_prepared_arrays_have_the_paper_shapes(ds2_showers):
    energy, showers = read_showers(ds2_showers, 10)
    p = Prepared(energy, showers, np.random.default_rng(0))
    shapes = {f: tuple(a.shape for a in p.arrays(f)) for f in (1, 2, 3)}
    assert shapes == {1: ((10, 45), (10, 1)), 2: ((10, 144), (10, 2)), 3: ((440, 144), (440, 191))}
    onehot = p.arrays(3)[1][:, -44:]
    assert (onehot.sum(1) == 1).all() and (onehot.argmax(1) == np.tile(np.arange(44), 10)).all()


def test_entry_point_errors_are_one_line(tmp_path, capsys, ds2_showers):
    assert main(["train", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r")]) == 2
    assert main(["sample", "--run", str(tmp_path), "--out", str(tmp_path / "s.h5")]) == 2
    wrong = tmp_path / "wrong.h5"
    write_showers(wrong, np.ones(2), np.ones((2, 45, 144)))
    import h5py
    with h5py.File(wrong, "a") as f:
        del f["showers"]
        f["showers"] = np.ones((2, 40500))
    assert main(["evaluate", "--data", str(wrong), "--generated", f"x={ds2_showers}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "no such shower file" in err[0] and "not an iCaloFlow run" in err[1] and "(N, 6480)" in err[2]
    assert not (tmp_path / "r").exists() and not (tmp_path / "s.h5").exists()


def test_subset_keeps_only_its_own_voxels():
    """Regression: subsets used to carry every shower's voxels, so the reference-halves floor of
    the voxel-energy W1 was 0 by construction."""
    rng = np.random.default_rng(0)
    showers = rng.exponential(1.0, (8, 45, 144)) * (rng.uniform(size=(8, 45, 144)) > 0.8)
    obs = observables(np.full(8, 1e4), showers)
    first, second = obs.subset(np.arange(4)), obs.subset(np.arange(4, 8))
    np.testing.assert_array_equal(np.sort(first.voxel_mev), np.sort(showers[:4][showers[:4] > 0]))
    assert len(first.voxel_mev) + len(second.voxel_mev) == len(obs.voxel_mev)
    assert distances(first, second)["log_voxel_mev"] > 0
