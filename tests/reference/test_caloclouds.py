"""CaloClouds reference: the DDPM's schedule and its sampler on an exactly solvable case, the
encoder's permutation invariance and padding, the masked losses, a learning signal of a short
training (loss and the radial profile against an untrained network), and the entry point's
errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from l1forge.reference.caloclouds import DDPMSchedule, EPiCEncoder, generate_showers, load_run, train_run
from l1forge.reference.caloclouds.__main__ import main
from l1forge.reference.caloclouds.train import SMALL, build_model
from l1forge.reference.caloclouds2.data import read_showers
from l1forge.reference.caloclouds2.observables import distances, observables


def test_schedule_is_the_quadratic_one():
    s = DDPMSchedule(100)
    assert float(s.beta[0]) == pytest.approx(1e-4) and float(s.beta[-1]) == pytest.approx(0.02)
    roots = s.beta.sqrt()
    np.testing.assert_allclose(np.diff(roots.numpy()), float(roots[1] - roots[0]), rtol=1e-4)  # linear in sqrt(beta)
    t = 40
    expected = s.beta[t] * (1 - s.alpha_bar[t - 1]) / (1 - s.alpha_bar[t])
    assert s.posterior_sigma(t) == pytest.approx(float(expected.sqrt())) and s.posterior_sigma(0) == 0.0


MU, VAR = 0.7, 0.3  # Gaussian points of the sampler test


class ExactNoise(nn.Module):
    """E[eps | x_t] for x_t = sqrt(abar) x + sqrt(1 - abar) eps with x ~ N(MU, VAR); reads abar
    from beta through the schedule."""

    def __init__(self, schedule: DDPMSchedule):
        super().__init__()
        self.schedule = schedule

    def forward(self, x, beta, context):
        t = torch.argmin((self.schedule.beta[None] - beta.reshape(-1, 1)).abs(), 1).reshape(beta.shape)
        abar = self.schedule.alpha_bar[t][..., None]
        return (1 - abar).sqrt() * (x - abar.sqrt() * MU) / (abar * VAR + 1 - abar)


def test_ddpm_sampler_reaches_the_data_with_the_exact_noise():
    """On a 1,000-step schedule (abar_T = 8e-4: the last step is noise). The authors' 100 steps stop
    at abar_T = 0.49, so sampling from N(0, 1) cannot reach data whose mean is not 0 even with the
    exact noise: a property of the published schedule, which a trained network partly absorbs."""
    assert float(DDPMSchedule(100).alpha_bar[-1]) == pytest.approx(0.49, abs=0.01)
    model = build_model(replace(SMALL, steps=1000))
    model.denoiser = ExactNoise(model.schedule)
    x = model.sample(torch.zeros(1, 2), [8000], torch.Generator().manual_seed(0))
    assert float(x.mean()) == pytest.approx(MU, abs=0.02)
    assert float(x.var()) == pytest.approx(VAR, rel=0.05)


def test_encoder_is_permutation_invariant_and_ignores_padding():
    torch.manual_seed(0)
    encoder = EPiCEncoder(16, 8, 2, 4)
    x = torch.randn(2, 7, 4)
    mask = torch.tensor([[1] * 5 + [0] * 2, [1] * 7], dtype=torch.bool)
    conditions = torch.randn(2, 2)
    mean, log_variance = encoder(x * mask[..., None], mask, conditions)
    perm = torch.tensor([4, 2, 0, 1, 3, 6, 5])
    torch.testing.assert_close(encoder(x[:, perm] * mask[:, perm, None], mask[:, perm], conditions)[0], mean)
    junk = x.clone()
    junk[~mask] = 50.0
    torch.testing.assert_close(encoder(junk, mask, conditions)[1], log_variance)


def test_losses_ignore_padding():
    model = build_model(replace(SMALL, hidden=(8,), encoder_hidden=8, encoder_global=8, latent=4))
    x = torch.randn(3, 6, 4)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]] * 3, dtype=torch.bool)
    changed = x.clone()
    changed[:, 4:] = 9.0
    values = []
    for points in (x * mask[..., None], changed):
        torch.manual_seed(5)
        values.append([v.item() for v in model.losses(points, mask, torch.zeros(3, 2))])
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)


@pytest.mark.slow  # trains flows / networks for about a minute
def test_short_training_learns(ild_showers, tmp_path):
    config = replace(SMALL, hidden=(32, 32), encoder_hidden=16, encoder_global=16, latent=8, iterations=400,
                     batch_showers=8, lr_decay=(200, 400), flow_epochs=30, flow_batch=64)
    summary = train_run(ild_showers, tmp_path / "run", config, seed=0, quiet=True)
    curve = summary["curves"]["diffusion"]
    assert np.mean(curve[-10:]) < 0.8 * np.mean(curve[:3])
    _, scaler, flow, model = load_run(tmp_path / "run")
    energy, showers = read_showers(ild_showers)
    made = generate_showers(flow, model, scaler, energy[:60], seed=3)
    assert all(len(s) and s[:, 1].min() >= 0 and s[:, 1].max() <= 29 and (s[:, 3] > 0).all() for s in made)
    torch.manual_seed(0)
    untrained = build_model(config).eval()
    untrained.latent_flow.load_state_dict(model.latent_flow.state_dict())
    raw = generate_showers(flow, untrained, scaler, energy[:60], seed=3)
    # Against the same showers, placed by the same ShowerFlow, the trained points' cells are closer
    # in their number and energies than an untrained network's (measured: 70 vs 107 hits, 1.2 vs
    # 2.2 MeV); the radial profile needs longer training (400 iterations: 2.1 mm for both).
    trained, untrained = (distances(observables(showers), observables(m)) for m in (made, raw))
    assert trained["n_hits"] < 0.8 * untrained["n_hits"]
    assert trained["hit_energy"] < 0.7 * untrained["hit_energy"]


def test_entry_point_errors_are_one_line(tmp_path, capsys, ds2_showers):
    assert main(["sample", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "x.h5")]) == 2
    assert main(["train", "--data", str(ds2_showers), "--out", str(tmp_path / "run")]) == 2
    assert main(["train", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "run")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "not a CaloClouds run" in lines[0] and "expected the CaloClouds layout" in lines[1]
    assert "no such shower file" in lines[2]
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "run").exists()
    other = tmp_path / "cc2"  # a CaloClouds II run folder has run.json and showerflow.pt too
    other.mkdir()
    (other / "run.json").write_text('{"model": "CaloClouds II", "config": {"teacher_iterations": 1}}')
    assert main(["sample", "--run", str(other), "--out", str(tmp_path / "x.h5")]) == 2
    (other / "run.json").write_text('{"model": "CaloClouds", "config": {"teacher_iterations": 1}}')
    assert main(["sample", "--run", str(other), "--out", str(tmp_path / "x.h5")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "its run.json is of 'CaloClouds II'" in lines[0]
    assert "a damaged CaloClouds run (TypeError" in lines[1]
