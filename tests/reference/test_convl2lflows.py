"""ConvL2LFlows: the image layout, the voxel transform and the batch noise on known values, the
layer flow's invertibility, exact log-determinant and cyclic (angular) equivariance, the metrics on
known cases (independent simulator showers vs distorted ones), a learning signal of one layer flow,
a brief end-to-end run whose saved model reloads to the same showers, and the entry point's
errors."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from l1forge.reference.convl2lflows.__main__ import main
from l1forge.reference.convl2lflows.data import (GRID, MAX_FLOOR_MEV, THRESHOLD_MEV, VoxelTransform, from_images,
                                                 noisy_batch, renormalize, to_images)
from l1forge.reference.convl2lflows.evaluate import evaluate, separation_power
from l1forge.reference.convl2lflows.flows import LayerFlow, squeeze, unsqueeze
from l1forge.reference.convl2lflows.run import run_experiment
from l1forge.reference.convl2lflows.train import (SMALL, LayerSpec, Model, _first_condition_layer, build_layer_flow,
                                                  layer_context)
from l1forge.reference.icaloflow.data import read_showers
from l1forge.reference.icaloflow.train import NetSpec, fit_steps


def test_images_put_the_angle_last():
    showers = np.arange(2 * 45 * 900, dtype=float).reshape(2, 45, 900)
    images = to_images(showers)
    assert images.shape == (2, 45, 18, 50)
    # voxel index alpha * 18 + r (CaloChallenge) -> image[r, alpha]
    assert images[1, 7, 5, 31] == showers[1, 7, 31 * 18 + 5]
    np.testing.assert_array_equal(from_images(images), showers)


def test_voxel_transform_round_trip_and_clip():
    scale = np.full(45, 100.0)
    t = VoxelTransform(scale)
    x = torch.tensor([0.0, 1e-3, 0.5, 20.0, 99.0, 250.0]).reshape(1, 1, 1, 6).expand(1, 45, 1, 6)
    back = t.inverse(t.forward(x))[0, 0, 0]
    np.testing.assert_allclose(back[:5].numpy(), [0.0, 1e-3, 0.5, 20.0, 99.0], rtol=2e-3, atol=2e-6)
    assert back[5] == pytest.approx(100.0, rel=1e-3)  # above the layer's largest training voxel: clipped
    fitted = VoxelTransform.fit(np.full((3, 45, 18, 50), 7.0))
    np.testing.assert_allclose(fitted.scale.numpy(), 7.0 + MAX_FLOOR_MEV)


def test_noisy_batch_fills_only_empty_voxels_and_cuts_the_layer_sum():
    images = torch.zeros(4, 2, 18, 50)
    images[:, 0, 3, 10] = 5.0
    images[:, 1, 0, 0] = THRESHOLD_MEV / 2  # read out below threshold: not in the layer energy
    gen = torch.Generator().manual_seed(0)
    flow_input, layer_mev = noisy_batch(images, gen, shift=False)
    assert torch.all(flow_input > 0) and torch.all(flow_input[images == 0] <= THRESHOLD_MEV)
    assert torch.all((flow_input[:, 0, 3, 10] - 5.0).abs() < 1e-3)  # a hit gets the uniform noise only
    assert torch.all((layer_mev[:, 0] - 5.0).abs() < 1e-3) and torch.all(layer_mev[:, 1] == 0)
    shifted, _ = noisy_batch(images, gen, shift=True)
    assert torch.all(shifted[:, 0].amax((1, 2)) > 4.9) and shifted[:, 0, 3].argmax(-1).unique().numel() == 1


def test_renormalize_keeps_the_brightest_voxels_that_stay_above_threshold():
    layer = np.zeros((1, 1, 18, 50))
    layer[0, 0, 0, :4] = [1.0, 10.0, 0.01, 5.0]
    out = renormalize(layer, np.array([[8.0]]))
    # Keeping 10, 5, 1 and scaling by 8 / 16 leaves 0.5 >= threshold; adding 0.01 would not.
    np.testing.assert_allclose(out[0, 0, 0, :4], [0.5, 5.0, 0.0, 2.5])
    assert out.sum() == pytest.approx(8.0) and np.count_nonzero(out) == 3
    assert np.all(renormalize(layer, np.array([[THRESHOLD_MEV / 2]])) == 0)  # a layer below the readout: empty
    assert np.all(renormalize(np.zeros((1, 1, 18, 50)), np.array([[3.0]])) == 0)


def _random_flow(h_w=(18, 50), context=4, downsamples=((3, 5),)):
    torch.manual_seed(0)
    flow = LayerFlow(context, blocks=2, hidden=4, bins=6, downsamples=downsamples, embed=3)
    for p in flow.parameters():  # leave the identity start
        p.data += 0.1 * torch.randn_like(p)
    return flow.eval()


def test_layer_flow_inverts_its_sample():
    x = torch.randn(3, 1, 18, 50)
    assert torch.equal(unsqueeze(squeeze(x)), x)
    flow = _random_flow()
    c = torch.randn(3, 4, 18, 50)
    z = torch.randn(3, 4, 9, 25)
    z_back, _ = flow.to_noise(flow.sample(c, z), c)
    assert (z_back - z).abs().max() < 1e-4


def test_layer_flow_log_determinant_is_exact():
    # A 6 x 10 image (squeezed 3 x 5, one U-Net level of (3, 5)): the full Jacobian is 60 x 60.
    flow = _random_flow(context=4)
    x, c = torch.randn(1, 1, 6, 10), torch.randn(1, 4, 6, 10)
    jac = torch.autograd.functional.jacobian(lambda v: flow.to_noise(v.reshape(1, 1, 6, 10), c)[0].reshape(-1),
                                             x.reshape(-1))
    z, ladj = (v.detach() for v in flow.to_noise(x, c))
    assert float(ladj) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-3)
    expected = -0.5 * float((z**2).sum()) - 30 * math.log(2 * math.pi) + float(ladj)
    assert float(flow.log_prob(x, c).detach()) == pytest.approx(expected, abs=1e-3)


def test_layer_flow_is_equivariant_to_angular_rotation():
    # Rotating the shower by 10 angular bins (5 squeezed columns: one stride of the (3, 5)
    # downsampling) leaves its density unchanged: the convolutions wrap around the angle.
    flow = _random_flow()
    x, c = torch.randn(2, 1, 18, 50), torch.randn(2, 4, 18, 50)
    rotated = flow.log_prob(torch.roll(x, 10, -1), torch.roll(c, 10, -1))
    np.testing.assert_allclose(rotated.detach().numpy(), flow.log_prob(x, c).detach().numpy(), rtol=1e-5)
    # ... and a radial shift (zero-padded) does change it.
    assert (flow.log_prob(torch.roll(x, 3, -2), torch.roll(c, 3, -2)) - flow.log_prob(x, c)).abs().max() > 1e-2


def test_separation_power_on_known_histograms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    assert separation_power(a, a) == 0
    # Far outside the reference's range: all of it falls in the last bin, which holds a little of the reference.
    assert separation_power(a, a + 100) > 0.98
    assert 0.0 < separation_power(a, rng.normal(size=5000)) < 0.01


def test_metrics_tell_distorted_showers_from_independent_ones(ds3_showers):
    energy, showers = read_showers(ds3_showers, 240, GRID)
    ref, other = slice(0, 120), slice(120, 240)
    images = to_images(showers[other])
    wider = np.zeros_like(images)
    wider[:, :, 2:] = images[:, :, :-2]  # every voxel two radial bins further out
    table, _, _ = evaluate(energy[ref], showers[ref], {"independent": (energy[other], showers[other]),
                                                       "distorted": (energy[other], 1.5 * from_images(wider))})
    same, distorted = table["independent"], table["distorted"]
    assert same["low_level_auc"] < 0.7 and same["high_level_auc"] < 0.7
    assert distorted["low_level_auc"] > 0.9 and distorted["high_level_auc"] > 0.9
    assert distorted["sep_e_ratio"] > 0.7 and same["sep_e_ratio"] < 0.2
    assert distorted["sep_width"] > 0.3 and distorted["sep_width"] > 3 * same["sep_width"]
    # (The layer-energy histograms barely move: over 1 GeV - 1 TeV incident energies a factor 1.5 is a
    # small shift of a three-decade distribution. The voxel energies' W1 sees it.)
    assert distorted["log_voxel_mev"] > 5 * same["log_voxel_mev"]


def test_one_layer_flow_learns(ds3_showers):
    energy, showers = read_showers(ds3_showers, 240, GRID)
    images = torch.from_numpy(to_images(showers).astype(np.float32))
    transform = VoxelTransform.fit(images.numpy())
    e = torch.from_numpy(energy.astype(np.float32))
    layer, spec = 20, replace(SMALL.layers, steps=60, batch=64)
    first = _first_condition_layer(layer, spec)
    torch.manual_seed(0)
    flow, gen = build_layer_flow(layer, spec), torch.Generator().manual_seed(0)

    def loss(index):
        flow_input, layer_mev = noisy_batch(images[index, first:layer + 1], gen)
        f = transform.forward(flow_input, slice(first, layer + 1))
        return -flow.log_prob(f[:, -1:], layer_context(f[:, :-1], layer_mev[:, -1], e[index])).mean() / 900

    curve = fit_steps("layer 20", flow, spec, loss, len(images), True, 0)
    # Measured: 1.3 -> 0.5 nats per voxel over 60 steps.
    assert np.mean(curve[-10:]) < np.mean(curve[:5]) - 0.3


@pytest.mark.slow  # about 20 s: 45 layer flows trained and sampled
def test_brief_run_writes_a_model_that_reloads(ds3_showers, tmp_path):
    config = replace(SMALL, energy=NetSpec(2, 16, 1, 100, 3e-3, 100),
                     layers=LayerSpec(1, 4, 6, ((3, 5),), 2, 2, 4, 2e-3, 32))
    results = run_experiment(ds3_showers, tmp_path / "out", config, seed=0, limit=120, quiet=True)
    for name in ("results.json", "observables.png", "model/model.json", "model/layer_flows.pt"):
        assert (tmp_path / "out" / name).exists(), name
    table = results["comparison"]
    assert set(table) == {"reference halves", "ConvL2LFlows", "ConvL2LFlows, renormalized"}
    for row in table.values():
        assert 0 <= row["low_level_auc"] <= 1 and 0 <= row["high_level_auc"] <= 1
    assert results["loss"]["energy_last"] < results["loss"]["energy_first"]
    assert results["test_showers"] == 24 and results["seconds_per_shower"] > 0
    model = Model.load(tmp_path / "out" / "model")
    energy = np.array([2e3, 5e4, 5e5])
    showers = model.generate(energy, seed=3)
    assert showers.shape == (3, 45, 18, 50) and np.all(np.isfinite(showers))
    assert np.all((showers == 0) | (showers >= THRESHOLD_MEV)) and np.all(showers.sum((1, 2, 3)) > 0)
    np.testing.assert_array_equal(showers, model.generate(energy, seed=3))
    voxels, layer_mev = model.sample(energy, seed=3)
    renormalized = model.generate(energy, seed=3, renormalized=True)
    lit = layer_mev >= THRESHOLD_MEV
    np.testing.assert_allclose(renormalized.sum((2, 3))[lit], layer_mev[lit], rtol=1e-9)
    assert np.all(renormalized.sum((2, 3))[~lit] == 0)


def test_entry_point_errors(ds2_showers, ds3_showers, tmp_path, capsys):
    assert main(["run", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "o")]) == 2
    assert "no such shower file" in capsys.readouterr().err
    assert main(["run", "--data", str(ds2_showers), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "expected (N, 40500)" in err and "--geometry ds3" in err
    assert main(["run", "--data", str(ds3_showers), "--out", str(tmp_path / "o"), "--limit", "30"]) == 2
    assert "at least 40 to train on and 20 to test" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
