"""CaloClouds II reference: the EDM sampler and the consistency boundary on an exactly solvable
case, the shower placement, the metric on known cases, a learning signal of the small config,
and the entry point's errors."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from l1forge.reference.caloclouds2 import EDMSettings, PointWiseNet, sample_heun
from l1forge.reference.caloclouds2.__main__ import main
from l1forge.reference.caloclouds2.data import N_LAYERS, read_showers, split_features, write_showers
from l1forge.reference.caloclouds2.edm import Denoiser, consistency_distillation_loss, karras_sigmas
from l1forge.reference.caloclouds2.evaluate import classifier_auc, compare
from l1forge.reference.caloclouds2.generate import generate_showers, place_points
from l1forge.reference.caloclouds2.observables import distances, observables
from l1forge.reference.caloclouds2.train import SMALL, load_run, train_run


class IdealGaussianNet(nn.Module):
    """For data ~ N(0, s^2), the network whose preconditioned output is exact: the denoiser
    D(x, sigma) = x s^2 / (s^2 + sigma^2), or with `consistency` the consistency map (the flow's
    end point from (x, sigma), pinned to f(x, sigma_min) = x) x sqrt((s^2 + sigma_min^2) / (s^2 + sigma^2))."""

    def __init__(self, s: float, edm: EDMSettings, consistency: bool):
        super().__init__()
        self.s, self.consistency, self.probe = s, consistency, Denoiser(nn.Identity(), edm, consistency)

    def forward(self, x_in, c_noise, context):
        sigma = (4 * c_noise).exp()[..., None]
        c_skip, c_out, c_in = (v[..., None] for v in self.probe.scalings(sigma[..., 0]))
        x = x_in / c_in
        if self.consistency:
            wanted = x * ((self.s ** 2 + self.probe.edm.sigma_min ** 2) / (self.s ** 2 + sigma ** 2)).sqrt()
        else:
            wanted = x * self.s ** 2 / (self.s ** 2 + sigma ** 2)
        return torch.where(c_out > 0, (wanted - c_skip * x) / c_out.clamp_min(1e-30), torch.zeros_like(x))


def test_heun_sampler_solves_the_gaussian_flow_exactly_enough():
    edm = EDMSettings()
    torch.manual_seed(0)
    for s in (0.3, 1.7):
        denoiser = Denoiser(IdealGaussianNet(s, edm, False), edm)
        noise = torch.randn(2000, 4, dtype=torch.float64)
        # The exact flow carries each point x(sigma_max) = sigma_max z to s z / sqrt(1 + s^2 / sigma_max^2).
        exact = noise * s / math.sqrt(1 + s ** 2 / edm.sigma_max ** 2)
        errors = [float((sample_heun(denoiser, noise, torch.zeros(2000, 4), n) - exact).abs().max() / s)
                  for n in (25, 50, 100, 200)]
        assert errors[-1] < 2e-3, errors
        # Heun is second order: doubling the steps divides the error by about four.
        assert all(3.0 < a / b < 5.0 for a, b in zip(errors[1:], errors[2:])), errors
    sigmas = karras_sigmas(13, edm)
    assert len(sigmas) == 14 and math.isclose(sigmas[0], 80.0, rel_tol=1e-6)
    assert math.isclose(sigmas[-2], 0.002, rel_tol=1e-4) and sigmas[-1] == 0


def test_consistency_boundary_and_ideal_teacher_distillation():
    edm = EDMSettings()
    torch.manual_seed(1)
    student = Denoiser(PointWiseNet(4, 2, (16,), 8), edm, consistency=True)
    x = torch.randn(100, 4)
    # f(x, sigma_min) = x, whatever the network computes.
    assert torch.equal(student(x, torch.tensor(edm.sigma_min), torch.zeros(100, 2)), x)
    # The exact consistency map of the exact teacher has a loss that is one Heun step's error only:
    # below a slightly wrong map's and an untrained student's, and falling as O(h^3) squared with
    # finer levels.
    ideal = Denoiser(IdealGaussianNet(0.5, edm, True), edm, consistency=True)
    teacher = Denoiser(IdealGaussianNet(0.5, edm, False), edm)
    data, context = torch.randn(50000, 4, dtype=torch.float64) * 0.5, torch.zeros(50000, 2, dtype=torch.float64)
    losses = [float(consistency_distillation_loss(f, f, teacher, data, context, 18).detach())
              for f in (ideal, Denoiser(IdealGaussianNet(0.6, edm, True), edm, consistency=True), student.double())]
    assert losses[0] < 0.3 * min(losses[1:]), losses
    finer = float(consistency_distillation_loss(ideal, ideal, teacher, data, context, 72))
    assert finer < losses[0] / 20, (finer, losses[0])


def test_placement_keeps_the_flow_make_up():
    rng = np.random.default_rng(0)
    counts = np.zeros(N_LAYERS, dtype=np.int64)
    counts[3:12] = [5, 9, 20, 30, 25, 12, 8, 4, 2]
    share = counts / counts.sum()
    points = np.column_stack([rng.normal(3, 10, 115), rng.normal(8, 3, 115), rng.normal(40, 10, 115),
                              rng.gamma(2.0, 1e-3, 115)])
    placed = place_points(points, counts, share, 42.0, (1.5, 38.0))
    layer = placed[:, 1].astype(int)
    np.testing.assert_array_equal(np.bincount(layer, minlength=N_LAYERS), counts)
    np.testing.assert_allclose(np.bincount(layer, weights=placed[:, 3], minlength=N_LAYERS), share * 42.0, rtol=1e-5)
    e = placed[:, 3]
    assert abs((placed[:, 0] * e).sum() / e.sum() - 1.5) < 1e-3 and abs((placed[:, 2] * e).sum() / e.sum() - 38.0) < 1e-3
    # Points are dealt out in the order of their generated layer coordinate, moved as a whole.
    order = np.argsort(points[:, 1], kind="stable")
    assert np.ptp(placed[:, 0] - points[order, 0]) < 1e-4 and np.ptp(placed[:, 2] - points[order, 2]) < 1e-4
    assert placed[0, 1] == 3 and placed[-1, 1] == 11
    n, visible, _, layer_counts, energy_share = split_features(
        np.concatenate([[np.log(115.2), np.log(42.0), 1.5, 38.0], share, share]))
    assert n == 115 and layer_counts.sum() == 115 and math.isclose(visible, 42.0) and math.isclose(energy_share.sum(), 1.0)


def test_metric_is_zero_on_itself_and_sees_a_shift(ild_showers):
    energy, showers = read_showers(ild_showers)
    ref = observables(showers)
    assert all(v == 0 for v in distances(ref, ref).values())
    shifted = observables([s + np.array([5.0 * 5.0883331298828125, 0, 0, 0], np.float32) for s in showers])
    d = distances(ref, shifted)
    assert abs(d["cog_x"] - 25.44) < 0.05  # a whole-cell shift moves the centre by exactly 5 cells
    assert d["n_hits"] == 0 and d["radial"] < 1e-9 and d["hit_energy"] < 1e-9
    doubled = distances(ref, observables([s * np.array([1, 1, 1, 2], np.float32) for s in showers]))
    assert abs(doubled["energy_sum"] / ref.scalars["energy_sum"].mean() - 1) < 0.01


def test_classifier_auc_tells_apart_only_what_differs(ild_showers):
    energy, showers = read_showers(ild_showers)
    obs = observables(showers)
    half = obs.n_showers // 2
    first, second = obs.subset(np.arange(half)), obs.subset(np.arange(half, 2 * half))
    assert abs(classifier_auc(first, second) - 0.5) < 0.15
    # every point three layers further back (near 2 X0 in the thin front layers)
    deeper = observables([s + np.array([0, 3, 0, 0], np.float32) for s in showers[half:2 * half]])
    assert classifier_auc(first, deeper) > 0.9


@pytest.mark.slow
def test_small_config_learns_and_round_trips(ild_showers, tmp_path):
    config = replace(SMALL, teacher_iterations=400, student_iterations=150, flow_epochs=30, flow_batch=64,
                     teacher_batch_points=2048, student_batch_points=2048)
    summary = train_run(ild_showers, tmp_path / "run", config, seed=0, quiet=True)
    curves = summary["curves"]
    # (the EDM loss has a large irreducible part: 1.02 -> 0.84 over 12,000 iterations)
    assert np.mean(curves["teacher_loss"][-10:]) < 0.93 * np.mean(curves["teacher_loss"][:5])
    assert np.mean(curves["student_loss"][-10:]) < 0.8 * np.mean(curves["student_loss"][:5])
    assert curves["showerflow_nll"][-1] < curves["showerflow_nll"][0] - 30  # nats per shower
    _, scaler, flow, teacher, student = load_run(tmp_path / "run")
    energy, showers = read_showers(ild_showers)
    ref = observables(showers)
    made = generate_showers(flow, student, scaler, energy[:120], one_step=True, seed=3)
    assert [len(s) for s in made] == [len(s) for s in generate_showers(flow, student, scaler, energy[:120],
                                                                       one_step=True, seed=3)]
    untrained = replace(config, teacher_iterations=0)
    # Against the same showers, trained points are far closer in their radial profile than the
    # points of an untrained network placed by the same flow.
    fresh = load_run(_untrained_copy(tmp_path, untrained))[3]
    raw = generate_showers(flow, fresh, scaler, energy[:120], one_step=False, n_steps=4, seed=3)
    assert distances(ref, observables(made))["radial"] < 0.5 * distances(ref, observables(raw))["radial"]
    table = compare(ref, {"student": observables(made)}, n_boot=3)
    assert set(table) == {"reference halves", "student"} and table["student"]["radial"]["error"] > 0
    write_showers(tmp_path / "made.h5", energy[:120], made)
    again = read_showers(tmp_path / "made.h5")[1]
    assert all(np.array_equal(a, b) for a, b in zip(again, made))


def _untrained_copy(tmp_path, config):
    import json
    import shutil

    import torch as t

    from l1forge.reference.caloclouds2.train import build_denoiser
    from l1forge.reference.caloclouds2.data import PointScaler

    dst = tmp_path / "untrained"
    shutil.copytree(tmp_path / "run", dst)
    summary = json.loads((dst / "run.json").read_text())
    t.manual_seed(0)
    t.save(build_denoiser(config, PointScaler.from_dict(summary["scaler"]), False).state_dict(), dst / "teacher.pt")
    return dst


def test_entry_point_errors_are_one_line(tmp_path, capsys):
    assert main(["sample", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a CaloClouds II run" in err[0]
    (tmp_path / "bad.h5").write_text("not hdf5")
    assert main(["evaluate", "--data", str(tmp_path / "bad.h5"), "--generated", "a=b.h5"]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_evaluate_writes_w1_and_classifier_auc(ild_showers, tmp_path, capsys):
    import json

    from l1forge.models.data.showers import generate_showers as simulate, shower_settings

    other = tmp_path / "other.h5"  # the simulator with another seed: the same distribution
    simulate(240, 1, other, shower_settings("ild"), workers=1, progress=False)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(ild_showers), "--generated", f"sim={other}", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["w1"]) == {"reference halves", "sim"} and result["w1"]["sim"]["radial"]["w1"] > 0
    assert abs(result["classifier_auc"]["sim"] - 0.5) < 0.15
    assert out.with_suffix(".png").stat().st_size > 0 and "classifier AUC" in capsys.readouterr().out
