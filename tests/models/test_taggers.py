"""Brevitas deep sets and MLP -> QONNX -> hls4ml: bit-exact on 10,000 generated jets plus random
inputs on the input grid (extremes included), and equal to Brevitas' own forward pass."""
import itertools
import os

import numpy as np
import pytest

from l1forge.compiler.pipeline import compile_model
from l1forge.models.taggers import TaggerConfig, build_tagger
from l1forge.models.train import export_qonnx_model

from tests.tagger_checks import check_tagger as _check, quick_fit as _quick_fit

pytestmark = pytest.mark.tools  # every test here runs g++, Verilator, Pythia or Chromium

LEVELS = {"pool": ("mean", "sum", "max"), "n": (8, 32), "features": (3, 16), "bits": (4, 6, 8)}
FAST = [("mean", 8, 3, 8), ("sum", 32, 16, 4), ("max", 8, 16, 6)]
# With FAST, a covering array: every pair of levels of any two factors is compiled at least once
# (10 compiles instead of all 36; test_matrix_covers_every_pair_of_levels checks it).
# L1FORGE_FULL_MATRIX=1 runs the whole product.
PAIRWISE = [("mean", 32, 3, 6), ("sum", 8, 3, 4), ("max", 32, 3, 8), ("mean", 8, 16, 4), ("sum", 8, 16, 8),
            ("sum", 8, 3, 6), ("max", 8, 3, 4)]
FULL = ([c for c in itertools.product(*LEVELS.values()) if c not in FAST]
        if os.environ.get("L1FORGE_FULL_MATRIX") == "1" else PAIRWISE)


def test_matrix_covers_every_pair_of_levels():
    def pairs(case):
        return {(i, case[i], j, case[j]) for i, j in itertools.combinations(range(len(case)), 2)}

    every = set().union(*(pairs(c) for c in itertools.product(*LEVELS.values())))
    assert set().union(*(pairs(c) for c in FAST + PAIRWISE)) == every


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
    from l1forge.compiler.ir import load_model
    from l1forge.compiler.ir.emulator import emulate
    from l1forge.compiler.passes.canonicalize import canonicalize
    from l1forge.hw.sim.cosim import grid_inputs

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
