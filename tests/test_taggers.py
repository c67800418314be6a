"""Brevitas deep sets and MLP -> QONNX -> hls4ml: bit-exact on 10,000 generated jets plus random
inputs on the input grid (extremes included), and equal to Brevitas' own forward pass."""
import numpy as np
import pytest
import torch

from compiler.pipeline import compile_model
from models.data.loader import load_jets
from models.taggers import TaggerConfig, build_tagger
from models.train import export_qonnx_model, predict

FAST = [("mean", 8, 3, 8), ("sum", 32, 16, 4), ("max", 8, 16, 6)]
FULL = [(p, n, f, b) for p in ("mean", "sum", "max") for n in (8, 32) for f in (3, 16) for b in (4, 6, 8)
        if (p, n, f, b) not in FAST]


def _quick_fit(model, x, steps=30, seed=0):
    """A few optimizer steps so weights and learned scales move off their initial values."""
    torch.manual_seed(seed)
    y = torch.randint(0, 5, (len(x),))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    xt = torch.from_numpy(x)
    for i in range(steps):
        idx = torch.randint(0, len(x), (256,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    return model


def _check(cfg: TaggerConfig, jets_file, tmp_path):
    data = load_jets(jets_file, n_constituents=cfg.n_constituents, features="16" if cfg.n_features == 16 else "3",
                     fractions=(1.0, 0.0, 0.0))
    x = data.train.x
    assert len(x) >= 10_000
    model = _quick_fit(build_tagger(cfg), x)
    onnx_path = export_qonnx_model(model, cfg, tmp_path / "model.onnx")
    report = compile_model(onnx_path, tmp_path / "fw", data=x, labels=data.train.y, n_random=2000,
                           log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact", v
    assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
    assert v["data_samples"] == len(x) and v["random_samples"] == 2000
    from compiler.ir import load_model
    from compiler.ir.emulator import emulate
    from compiler.passes.canonicalize import canonicalize
    exact = emulate(canonicalize(load_model(onnx_path)), x).reshape(len(x), -1)
    np.testing.assert_array_equal(exact, predict(model, x).astype(np.float64))  # Brevitas itself


@pytest.mark.parametrize("pool,n,f,bits", FAST)
def test_deepset_bit_exact(pool, n, f, bits, jets_10k, tmp_path):
    _check(TaggerConfig(model="deepsets", pool=pool, n_constituents=n, n_features=f, w_bits=bits, a_bits=bits),
           jets_10k, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("pool,n,f,bits", FULL)
def test_deepset_bit_exact_full_matrix(pool, n, f, bits, jets_10k, tmp_path):
    _check(TaggerConfig(model="deepsets", pool=pool, n_constituents=n, n_features=f, w_bits=bits, a_bits=bits),
           jets_10k, tmp_path)


def test_mlp_bit_exact(jets_10k, tmp_path):
    _check(TaggerConfig(model="mlp", n_constituents=8, n_features=3, w_bits=8, a_bits=8), jets_10k, tmp_path)


@pytest.mark.parametrize("pool", ["mean", "sum", "max"])
def test_dynamo_and_torchscript_exports_mean_the_same_integers(pool, tmp_path):
    """torch's dynamo and TorchScript exporters, canonicalized, compute identical integers."""
    from compiler.ir import load_model
    from compiler.ir.emulator import emulate
    from compiler.passes.canonicalize import canonicalize
    from hw.cosim import grid_inputs

    cfg = TaggerConfig(model="deepsets", pool=pool)
    model = _quick_fit(build_tagger(cfg), np.random.default_rng(0).normal(0, 1, (2000, 8, 3)).astype(np.float32))
    graphs = {}
    for dynamo in (True, False):
        raw = load_model(export_qonnx_model(model, cfg, tmp_path / f"m{dynamo}.onnx", dynamo=dynamo))
        graphs[dynamo] = canonicalize(raw)
    x = grid_inputs(graphs[True], 5000, seed=9)
    np.testing.assert_array_equal(emulate(graphs[True], x), emulate(graphs[False], x))
    report = compile_model(graphs[False], tmp_path / "fw", n_random=3000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"


def test_sixteen_bit_deepset_verifies_against_float64_qonnx(tmp_path):
    """16-bit weights and activations give accumulators beyond float32's 24 bits: the float32
    graph rounds, so the QONNX reference runs the same graph in double, and the firmware is
    bit-exact with it (a 2-bit model still uses the float32 graph)."""
    x = np.random.default_rng(0).normal(0, 1, (3000, 8, 3)).astype(np.float32)
    for bits, precision in ((16, "float64"), (2, "float32")):
        cfg = TaggerConfig(model="deepsets", pool="mean", w_bits=bits, a_bits=bits)
        path = export_qonnx_model(_quick_fit(build_tagger(cfg), x), cfg, tmp_path / f"m{bits}.onnx")
        v = compile_model(path, tmp_path / f"fw{bits}", data=x, n_random=2000, log=lambda m: None)["verification"]
        assert v["status"] == "bit-exact" and v["qonnx_precision"] == precision, v
        assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
