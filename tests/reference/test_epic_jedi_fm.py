"""EPiC-FM / EPiC-JeDi reference: the EPiC network is permutation-equivariant and ignores padding;
both samplers turn noise into the data distribution when given the exact velocity / noise
predictor of a Gaussian data set (so their signs, paths and schedules are right); a short training
on generated jets lowers the loss and beats the untrained network on the JetNet metrics; the entry
point's errors are one line."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.epic_jedi_fm import Diffusion, EPiCNetwork, FlowMatching, Scaler, read_clouds
from l1forge.reference.epic_jedi_fm.__main__ import main
from l1forge.reference.epic_jedi_fm.generative import SIGMA_MIN, _theta
from l1forge.reference.epic_jedi_fm.run import CONFIGS, SMALL, evaluate, generate, train_model


def test_network_is_permutation_equivariant_and_ignores_padding():
    torch.manual_seed(0)
    net = EPiCNetwork(hidden=16, latent=4, layers=2)
    x = torch.randn(3, 6, 3)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]], dtype=torch.bool)
    x = x * mask[..., None]
    t, jet = torch.rand(3), torch.randn(3, 2)
    out = net(x, mask, t, jet)
    perm = torch.tensor([3, 0, 2, 1, 5, 4])
    torch.testing.assert_close(net(x[:, perm], mask[:, perm], t, jet), out[:, perm])
    assert torch.all(out[~mask] == 0)
    junk = x.clone()
    junk[~mask] = 7.0  # whatever sits in the padding
    wider = torch.cat([junk, torch.full((3, 2, 3), 9.0)], 1)
    wider_mask = torch.cat([mask, torch.zeros(3, 2, dtype=torch.bool)], 1)
    torch.testing.assert_close(net(wider, wider_mask, t, jet)[:, :6], out)


MU, VAR = 1.5, 0.25  # the Gaussian data set of the sampler tests, per coordinate


class ExactVelocity(torch.nn.Module):
    """E[(1 - sigma_min) z - x | y_t] for x ~ N(MU, VAR), z ~ N(0, 1)."""

    def forward(self, y, mask, t, jet):
        a, b = (1 - t)[:, None, None], (SIGMA_MIN + (1 - SIGMA_MIN) * t)[:, None, None]
        return -MU + ((1 - SIGMA_MIN) * b - a * VAR) / (a ** 2 * VAR + b ** 2) * (y - a * MU)


class ExactNoise(torch.nn.Module):
    """E[eps | x_t] for x_t = cos(theta) x + sin(theta) eps, x ~ N(MU, VAR)."""

    def forward(self, y, mask, t, jet):
        c, s = torch.cos(_theta(t))[:, None, None], torch.sin(_theta(t))[:, None, None]
        return s * (y - c * MU) / (c ** 2 * VAR + s ** 2)


@pytest.mark.parametrize("model,kwargs", [(FlowMatching(ExactVelocity()), {}),
                                          (Diffusion(ExactNoise()), {"solver": "em"}),
                                          (Diffusion(ExactNoise()), {"solver": "midpoint"})])
def test_samplers_reach_the_data_distribution_with_the_exact_field(model, kwargs):
    mask = torch.ones(4000, 5, dtype=torch.bool)
    jet = torch.zeros(4000, 2, dtype=torch.float64)
    x = model.sample(mask, jet, 200, generator=torch.Generator().manual_seed(0), **kwargs).flatten()
    assert float(x.mean()) == pytest.approx(MU, abs=0.02)
    assert float(x.var()) == pytest.approx(VAR, rel=0.05)


def test_losses_are_masked():
    torch.manual_seed(1)
    x = torch.randn(4, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0]] * 4, dtype=torch.bool)
    for kind in (FlowMatching, Diffusion):
        model = kind(EPiCNetwork(hidden=8, latent=2, layers=1))
        torch.manual_seed(2)
        base = model.loss(x * mask[..., None], mask, torch.zeros(4, 2)).item()
        changed = x.clone()
        changed[:, 3:] = 100.0
        torch.manual_seed(2)
        assert model.loss(changed, mask, torch.zeros(4, 2)).item() == pytest.approx(base, rel=1e-6)


@pytest.mark.tools  # the jets come from Pythia
def test_short_training_learns(jets_10k):
    config = replace(SMALL, epochs=20, batch_size=64, warmup_steps=50, hidden=32, layers=2, fm_steps=20, jedi_steps=40,
                     metric_batch=500, metric_batches=3)
    clouds = read_clouds(jets_10k, "t", 30)
    train, test = clouds.select(np.arange(1500)), clouds.select(np.arange(1500, len(clouds)))
    scaler = Scaler.fit(train)
    for kind in ("fm", "jedi"):
        model, curve, _ = train_model(kind, train, scaler, config, seed=0)
        assert np.mean(curve[-3:]) < 0.8 * np.mean(curve[:2])
        untrained, _, _ = train_model(kind, train, scaler, replace(config, epochs=0), seed=0)
        scores = [evaluate(test, generate(m, kind, test.mask, test.jet, scaler, config, 1)[0], test.mask, config, 0)
                  for m in (model, untrained)]
        assert scores[0]["W1M"]["mean"] < 0.5 * scores[1]["W1M"]["mean"]
        assert scores[0]["W1P"]["mean"] < 0.5 * scores[1]["W1P"]["mean"]


@pytest.mark.tools
def test_paper150_reads_jetnet150_like_clouds(jet_sample):
    clouds = read_clouds(jet_sample, "t", CONFIGS["paper150"].n_particles)
    assert clouds.particles.shape[1:] == (150, 3) and clouds.mask[:, 30:].any()
    assert np.all(clouds.particles[~clouds.mask] == 0)


def test_entry_point_errors_are_one_line(tmp_path, capsys, ds2_showers):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r")]) == 2
    assert main(["run", "--data", str(ds2_showers), "--out", str(tmp_path / "r")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "no such jet file" in lines[0] and "expected the jet layout" in lines[1]
    assert not (tmp_path / "r").exists()
