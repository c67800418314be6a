"""Learnable bit widths (models.quantizers, models.taggers.hgq): the quantizer's forward is the
QONNX Quant it exports to, its surrogate gradients are the published ones, the resource term
prunes, and a trained deep set exports to a QONNX file whose integers equal the PyTorch model's
and compiles bit-exact through the RTL backend."""
import math

import numpy as np
import onnx
import pytest
import torch

from l1forge.compiler.api import canonicalize, emulate, load_model, verify
from l1forge.compiler.pipeline import compile_model
from l1forge.models.quantizers import FixedQuantizer, dense_adder_cost
from l1forge.models.taggers import TaggerConfig, build_tagger
from l1forge.models.taggers.hgq import bit_summary, export_hgq


def test_forward_is_round_half_even_on_each_channel_grid_with_saturation():
    q = FixedQuantizer((3,), 0.0, True, "activation")
    with torch.no_grad():
        q.frac.copy_(torch.tensor([1.0, 2.4, -1.0]))  # grids 2**-1, 2**-2, 2**1
    q.train()
    q(torch.tensor([[3.0, 3.0, 7.0]]))  # ranges seen: 2 integer bits, 2, 3
    q.eval()
    x = torch.tensor([[0.25, 0.125, 3.0], [0.75, -0.375, -5.0], [100.0, 100.0, 100.0]])
    y = q(x)
    bits = q.total_bits()
    assert bits == 1 + max(2 + 1, 2 + 2, 3 - 1)  # sign + the widest channel: 5 bits
    expect = torch.tensor([[0.0, 0.0, 4.0], [1.0, -0.5, -4.0], [7.5, 3.75, 30.0]])  # ties to even, saturation
    assert torch.equal(y, expect)
    assert torch.equal(q.scale_array(), torch.tensor([0.5, 0.25, 2.0]))


def test_fractional_bits_get_the_surrogate_gradient_minus_ln2_times_the_error():
    q = FixedQuantizer((1,), 2.0, True, "weight")
    w = torch.tensor([0.3, -0.7, 0.05], requires_grad=True)
    q.train()
    y = q(w)
    error = (y - w).detach()
    y.sum().backward()
    assert torch.allclose(q.frac.grad, -math.log(2) * error.sum().reshape(1))
    assert torch.equal(w.grad, torch.ones(3))  # straight through inside the range


def test_bits_reach_zero_and_weights_round_to_zero():
    q = FixedQuantizer((1, 3), 0.0, True, "weight")
    w = torch.tensor([[0.2, 3.0, -0.4]])
    with torch.no_grad():
        q.frac.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
    q.eval()
    assert q(w).tolist() == [[0.0, 3.0, 0.0]]  # 0.2 on 2**-1 and -0.4 on 2**1 round to zero
    bits = q.bits_per_element(w)
    assert bits[0, 0] == 0 and bits[0, 2] == 0 and bits[0, 1] == 1 + (2 + 1)  # sign + integer + fraction


def test_unsigned_activations_saturate_per_channel_at_their_own_range():
    q = FixedQuantizer((2,), 1.0, False, "activation", rounding="floor")
    q.train()
    q(torch.tensor([[1.2, 6.0]]))  # ranges seen: 2.5 -> 2 bits on 2**-1 ... 6 -> 4 bits
    q.eval()
    assert q.total_bits() == 4 and q.channel_top().tolist() == [3.0, 15.0]
    y = q(torch.tensor([[1.9, 1.9], [50.0, 50.0], [-1.0, 0.74]]))
    assert y.tolist() == [[1.5, 1.5], [1.5, 7.5], [0.0, 0.5]]  # floor; channel 0 saturates at 3 LSBs


def test_a_tied_quantizer_has_one_grid_and_saturates_every_channel_at_its_one_width():
    q = FixedQuantizer((3,), 1.0, False, "activation", "floor", tied=True)
    q.train()
    q(torch.tensor([[1.2, 6.0, 0.3]]))  # the widest channel: 6 on 2**-1 -> 12 -> 4 bits
    q.eval()
    assert tuple(q.frac.shape) == (1,) and q.channel_top() is None and q.total_bits() == 4
    assert q(torch.tensor([[7.9, 7.9, 0.7]])).tolist() == [[7.5, 7.5, 0.5]]  # one range, floor on 2**-1
    assert torch.equal(q.scale_array(), torch.full((3,), 0.5))


def test_the_adder_proxy_charges_a_tiny_weight_for_the_accumulator_bits_it_drags_in():
    x_frac, x_max = torch.tensor([2.0, 2.0]), torch.tensor([3.0, 3.0])  # inputs < 4 on 2**-2

    def cost(w1, f1):
        weight, bias = torch.tensor([[1.0], [w1]]), torch.zeros(1)
        wq = FixedQuantizer((2, 1), 1.0, True, "weight")
        with torch.no_grad():
            wq.frac.copy_(torch.tensor([[1.0], [f1]]))
        bq = FixedQuantizer((1,), 0.0, True, "weight")
        return dense_adder_cost(weight, wq, bias, bq, x_frac, x_max), wq

    plain, _ = cost(0.5, 1.0)  # terms on 2**-3; |sum| <= 4.5: 3 integer bits + 3 + sign = 7 bits
    assert plain.item() == 7 * (2 + 1)  # 2 digits (1.0 = 2 LSBs on 2**-1) + 1 digit
    tiny, wq = cost(2.0 ** -6, 6.0)  # one term on 2**-8 widens the whole sum: 2 + 8 + 1 = 11 bits
    assert tiny.item() == 11 * (2 + 1)
    tiny.backward()
    assert wq.frac.grad[1, 0] > wq.frac.grad[0, 0] > 0  # the cost asks the tiny weight for fewer bits first


def _small(beta=0.0, granularity="element", pool="mean", per_particle=False, model="deepsets"):
    return TaggerConfig(model=model, n_constituents=8, phi=(8, 8), rho=(8,), widths=(16, 8), effects=(4, 4),
                        objects=(8, 4), classifier=(8,), pool=pool, hgq=True, beta=beta,
                        hgq_granularity=granularity, hgq_per_particle=per_particle)


def _train(cfg, steps=80, seed=0):
    torch.manual_seed(seed)
    model = build_tagger(cfg)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 8, 3, generator=g)
    y = (x[:, :, 0].mean(1) > 0).long() + 2 * (x[:, :, 1].mean(1) > 0).long()  # a learnable 4-class rule
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        model.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y) + cfg.beta * model.resource_cost()
        loss.backward()
        opt.step()
    return model, x, y


def test_the_resource_term_trades_bits_for_accuracy():
    # measured: beta 0 -> accuracy 0.94, 37.7k EBOPs, 6 weights zero; beta 3e-4 -> 0.86, 17.6k, 11
    free, x, y = _train(_small(0.0), steps=200)
    tight, _, _ = _train(_small(3e-4), steps=200)
    a, b = bit_summary(free), bit_summary(tight)
    assert b["ebops"] < 0.6 * a["ebops"]
    assert b["weights_zero"] > a["weights_zero"] and b["mean_weight_bits"] < a["mean_weight_bits"] - 1
    for model, least in ((free, 0.85), (tight, 0.75)):  # both learned the rule (chance 0.25)
        model.eval()
        with torch.no_grad():
            assert (model(x).argmax(1) == y).float().mean() > least


def test_beta_warms_up_and_the_kept_epoch_is_the_best_validation_objective():
    from l1forge.models.data.loader import JetData, JetSplit, Standardizer
    from l1forge.models.train import TrainSettings, fit

    rng = np.random.default_rng(0)

    def split(n):
        x = rng.normal(0, 1, (n, 8, 3)).astype(np.float32)
        y = ((x[:, :, 0].mean(1) > 0) + 2 * (x[:, :, 1].mean(1) > 0)).astype(np.int64)
        return JetSplit(x, y, np.ones((n, 8), bool))

    data = JetData(split(512), split(256), split(64), Standardizer(np.zeros(3), np.ones(3)), ("a", "b", "c"))
    model = build_tagger(_small(3e-5))
    history = fit(model, data, TrainSettings(epochs=4, batch_size=128, lr=1e-2, beta_warmup=4), "t", progress=False,
                  beta=3e-5)
    assert [h["beta"] for h in history] == pytest.approx([3e-5 * k / 4 for k in (1, 2, 3, 4)])
    best = min(history, key=lambda h: h["val_objective"])
    assert float(model.resource_cost().detach()) == pytest.approx(best["resource_cost"])  # that epoch's weights


@pytest.mark.parametrize("granularity,pool,per_particle,family",
                         [("element", "mean", False, "deepsets"), ("channel", "max", False, "deepsets"),
                          ("element", "sum", True, "deepsets"), ("element", "mean", False, "mlp"),
                          ("element", "mean", False, "intnet"), ("channel", "sum", False, "intnet")])
def test_export_equals_the_pytorch_model_bit_for_bit(granularity, pool, per_particle, family, tmp_path):
    model, _, _ = _train(_small(1e-5, granularity, pool, per_particle, family), steps=40)
    if family == "deepsets":
        assert tuple(model.phi[0].act.frac.shape) == ((8, 8) if per_particle else (8,))  # per slot and channel
    summary = bit_summary(model)  # every family's resource terms evaluate
    assert summary["weights"] == sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    assert 0 < summary["ebops"] and 0 < summary["adders_lut_proxy"]
    path = export_hgq(model, tmp_path / "model.onnx")
    onnx.checker.check_model(onnx.load(path))  # reopens in ONNX's own checker (qonnx domain declared)
    canonical = canonicalize(load_model(path))
    verify(canonical)
    x = np.random.default_rng(2).normal(0, 1.3, (3000, 8, 3)).astype(np.float32)
    model.eval()
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).double().numpy()
    assert np.array_equal(emulate(canonical, x).reshape(ours.shape), ours)


@pytest.mark.tools
def test_layer_activation_grids_compile_bit_exact_through_hls4ml(tmp_path):
    cfg = _small(1e-5)
    cfg.hgq_act_granularity = "layer"  # one ap_fixed cast per activation tensor; weights stay per element
    model, _, _ = _train(cfg, steps=40)
    path = export_hgq(model, tmp_path / "model.onnx")
    x = np.random.default_rng(3).normal(0, 1.3, (2000, 8, 3)).astype(np.float32)
    report = compile_model(path, tmp_path / "fw", backend="hls4ml", data=x, n_random=10_000, log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact" and v["samples"] == 12_000
    assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}


@pytest.mark.tools
@pytest.mark.parametrize("family", ["deepsets", "mlp", "intnet"])
def test_a_trained_hgq_tagger_compiles_bit_exact_in_rtl(family, tmp_path):
    model, _, _ = _train(_small(1e-5, model=family), steps=40)
    path = export_hgq(model, tmp_path / "model.onnx")
    x = np.random.default_rng(3).normal(0, 1.3, (2000, 8, 3)).astype(np.float32)
    report = compile_model(path, tmp_path / "fw", backend="rtl", data=x, n_random=10_000, synth=False,
                           log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact" and v["samples"] == 12_000
    assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
