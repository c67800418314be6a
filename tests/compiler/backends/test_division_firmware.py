"""Exact division by a constant in firmware: a quantized mean over a count that is not a power
of two (DivQuant) in da4ml's traced program, in Verilator and in the hls4ml C simulation, equal
to the emulator on every input, in every rounding mode; the interaction network at N = 6 with
mean pooling (refused before: "mean over 6 elements is a division by 6") compiles bit-exact."""
import numpy as np
import pytest
import torch

from l1forge.compiler.backends.rtl.trace import trace_model
from l1forge.compiler.frontends.brevitas import export_brevitas
from l1forge.compiler.ir import load_model
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.fixed import QONNX_ROUNDING
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs

from tests.graphs import quantized_mean
from tests.user_models import ChannelsFirstInteractionNet, calibrated

MODES = QONNX_ROUNDING
VARIANTS = {"signed": dict(signed=1, narrow=0, out_scale=2.0**-2), "narrow": dict(signed=1, narrow=1, out_scale=2.0**-1),
            "unsigned": dict(signed=0, narrow=0, out_scale=2.0**-1), "fine": dict(signed=1, narrow=0, out_scale=2.0**-6)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("n", [5, 6, 30])
def test_traced_division_equals_the_emulator(mode, variant, n):
    model = canonicalize(quantized_mean(n, mode, **VARIANTS[variant]))
    x = grid_inputs(model, 2000, seed=n)
    expected = emulate(model, x).reshape(len(x), -1)
    assert len(np.unique(expected)) > 10
    np.testing.assert_array_equal(trace_model(model).predict(x.reshape(len(x), -1)), expected)


def test_traced_division_through_a_linear_layer():
    model = canonicalize(quantized_mean(6, "ROUND", dense=True, out_scale=2.0**-4, bits=10))
    x = grid_inputs(model, 2000, seed=1)
    np.testing.assert_array_equal(trace_model(model).predict(x.reshape(len(x), -1)),
                                  emulate(model, x).reshape(len(x), -1))


@pytest.mark.tools
@pytest.mark.parametrize("mode", MODES)
def test_hls4ml_division_bit_exact(mode, tmp_path):
    report = compile_model(quantized_mean(6, mode, **VARIANTS["signed"]), tmp_path / "fw", n_random=5000,
                           log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 5000
    assert any(layer["name"] == "DivQuant_0" for layer in report["layers"])


@pytest.mark.tools
@pytest.mark.parametrize("backend,mode,variant", [("hls4ml", "HALF_UP", "unsigned"), ("hls4ml", "ROUND", "narrow"),
                                                  ("rtl", "ROUND", "signed"), ("rtl", "DOWN", "narrow")])
def test_division_bit_exact_in_simulation(backend, mode, variant, tmp_path):
    report = compile_model(quantized_mean(30, mode, **VARIANTS[variant]), tmp_path / "fw", backend=backend,
                           n_random=5000, synth=False, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 5000


@pytest.mark.tools
@pytest.mark.parametrize("backend", ["hls4ml", "rtl"])
def test_interaction_network_with_mean_over_six_compiles(backend, tmp_path):
    model = calibrated(ChannelsFirstInteractionNet(n=6), (6, 3))
    path = tmp_path / "m.onnx"
    export_brevitas(model, torch.zeros(1, 6, 3), path)
    canonical = canonicalize(load_model(path))
    assert "DivQuant" in [node.op_type for node in canonical.graph.node]
    x = grid_inputs(canonical, 3000, seed=5)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy().astype(np.float64)
    np.testing.assert_array_equal(emulate(canonical, x).reshape(expected.shape), expected)
    report = compile_model(path, tmp_path / "fw", backend=backend, data=x, n_random=1000, synth=False,
                           log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 4000
