"""Function tables and products of two datapath tensors in the IR: TabulateFunctions turns
Quant -> f -> Quant into an l1forge Table whose entries are f then the output Quant exactly as
qonnx computes them; the emulator and qonnx's execution of the canonical graph agree with the
original graph on every input code; too-wide or per-channel inputs are refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from l1forge.compiler.ir.custom_ops import DOMAIN, table_attributes
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.integer import NotExact
from l1forge.compiler.ir.model import as_float64
from l1forge.compiler.ir.types import infer_fixed_point_types
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.hw.sim.cosim import qonnx_execute

from tests.graphs import gated_product, quantized_function

CASES = {
    "sigmoid": dict(op="Sigmoid", out_signed=0, out_scale=2.0**-8),
    "tanh": dict(op="Tanh", out_scale=2.0**-7),
    "exp": dict(op="Exp", in_scale=2.0**-5, out_bits=12, out_scale=2.0**-6, out_signed=0),
    "softplus": dict(op="Softplus", out_signed=0),
    "leakyrelu": dict(op="LeakyRelu", alpha=0.1, mode="HALF_UP"),
    "silu": dict(op="Sigmoid", silu=True, out_scale=2.0**-5),
}
FLOAT = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh, "exp": np.exp,
         "softplus": lambda v: np.log1p(np.exp(v)), "leakyrelu": lambda v: np.where(v >= 0, v, 0.1 * v),
         "silu": lambda v: v / (1 + np.exp(-v))}


def _all_codes(scale: float, bits: int = 8, width: int = 6) -> np.ndarray:
    codes = np.arange(-(1 << (bits - 1)), 1 << (bits - 1)) * scale
    return np.resize(codes, (int(np.ceil(len(codes) / width)), width)).astype(np.float32)


@pytest.mark.parametrize("name", CASES)
def test_function_becomes_an_exact_table(name):
    spec = dict(CASES[name])
    original = quantized_function(**spec)
    model = canonicalize(original)
    tables = [n for n in model.graph.node if n.op_type == "Table"]
    assert [n.domain for n in tables] == [DOMAIN] and not any(
        n.op_type in ("Sigmoid", "Tanh", "Exp", "Softplus", "LeakyRelu", "Mul") for n in model.graph.node)
    table = table_attributes(tables[0])
    assert len(table["values"]) == 256 and table["function"] == name
    x = _all_codes(spec.get("in_scale", 2.0**-4))
    emulated = emulate(model, x)
    # the canonical graph's meaning (qonnx runs the Table's reference) = the emulator, on every code
    np.testing.assert_array_equal(qonnx_execute(model, x), emulated.reshape(len(x), -1))
    # = the original graph (float function, then the output Quant) executed by qonnx (in double
    # where onnxruntime has the function in double: not Softplus, LeakyRelu)
    single = name in ("softplus", "leakyrelu")
    reference = qonnx_execute(original if single else as_float64(original), x,
                              precision="float32" if single else "float64")
    np.testing.assert_array_equal(reference, emulated.reshape(len(x), -1))
    # the reported error is the largest distance to the float function on the grid: at most half an
    # output step where the output range holds the function
    err = np.abs(emulated - FLOAT[name](x.astype(np.float64)))
    assert np.isclose(table["max_error"], err.max())
    step = spec.get("out_scale", 2.0**-6)
    inside = (FLOAT[name](x) < (1 << (spec.get("out_bits", 8) - spec.get("out_signed", 1))) * step - step) & (
        FLOAT[name](x) > (-(1 << 7) * step if spec.get("out_signed", 1) else 0))
    assert err[inside].max() <= step / 2 + 1e-12


def test_leaky_relu_table_rounds_the_float32_product_as_the_graph_does():
    """alpha = 0.01 is not a binary fraction: at x = -2.34375 the float32 product is exactly
    -0.0234375 = -1.5 output steps (a tie: half-even gives -2), the float64 product -1.49999997
    steps (-1). torch, Brevitas and onnxruntime compute the float32 one; so does the table (seen
    as 36 of 20,000 CaloClouds student points differing from Brevitas before)."""
    import torch

    original = quantized_function("LeakyRelu", in_scale=2.0**-5, out_scale=2.0**-6, alpha=0.01)
    model = canonicalize(original)
    x = _all_codes(2.0**-5)
    emulated = emulate(model, x).reshape(len(x), -1)
    np.testing.assert_array_equal(qonnx_execute(original, x), emulated)
    by_torch = np.clip(np.round(torch.nn.functional.leaky_relu(torch.from_numpy(x), 0.01).numpy() / 2.0**-6), -128, 127)
    np.testing.assert_array_equal(by_torch * 2.0**-6, emulated)
    assert emulated.reshape(-1)[np.flatnonzero(x.reshape(-1) == -2.34375)[0]] == -2 * 2.0**-6


def test_wide_input_is_refused_with_the_width_it_needs():
    model = quantized_function("Sigmoid", in_bits=18, in_scale=2.0**-10, out_signed=0)
    with pytest.raises(NotExact, match="sigmoid of a 18-bit input needs a table of 2\\*\\*18 entries; at most 16"):
        canonicalize(model)


def test_function_without_quantizers_stays_and_is_refused_by_name():
    from l1forge.compiler.ir import verify

    model = quantized_function("Tanh")
    model.graph.node.remove(model.graph.node[-1])  # no output quantizer: a float function
    model.graph.node[-1].output[0] = "y"
    with pytest.raises(Exception, match="Tanh"):
        verify(canonicalize(model))


def test_product_of_two_datapath_tensors_is_exact_and_typed():
    model = canonicalize(gated_product())
    types = infer_fixed_point_types(model)
    mul = next(n for n in model.graph.node if n.op_type == "Mul")
    a, b = (types[i] for i in mul.input)
    t = types[mul.output[0]]
    assert t.frac == a.frac + b.frac  # the product's grid: fractions add
    rng = np.random.default_rng(3)
    x = (rng.integers(-128, 128, (4000, 4)) / 16.0).astype(np.float32)
    env = emulate(model, x, all_tensors=True)
    product = env[mul.output[0]]
    lhs, rhs = env[mul.input[0]], env[mul.input[1]]
    np.testing.assert_array_equal(product.lo, lhs.lo * rhs.lo)
    assert int(product.lo.min()) >= -(1 << (t.width - 1)) and int(product.lo.max()) < (1 << (t.width - 1))
    np.testing.assert_array_equal(qonnx_execute(model, x), emulate(model, x).reshape(len(x), -1))


def test_per_channel_input_is_refused_by_name():
    model = quantized_function("Tanh")
    scales = np.array([2.0**-4, 2.0**-3] * 3, dtype=np.float32)
    model.set_initializer("q_in_s", scales)
    with pytest.raises(NotExact, match="per-channel input quantizer of a table function"):
        canonicalize(model)


def test_hls4ml_refuses_an_add_of_a_constant_it_cannot_absorb():
    from onnx import TensorProto, helper

    from l1forge.compiler.backends.hls4ml.lowering import hls_layer_list
    from tests.graphs import make_model, quant_node

    inits = [helper.make_tensor("c", TensorProto.FLOAT, [1, 6], [0.5] * 6)]
    model = make_model([quant_node(inits, "q", "x", "xq", 2.0**-4, 8),
                        helper.make_node("Add", ["xq", "c"], ["a"], name="shift"),
                        quant_node(inits, "q2", "a", "y", 2.0**-4, 9)], inits, [1, 6], [1, 6])
    with pytest.raises(NotExact, match="unsupported Add for the hls4ml backend"):
        hls_layer_list(canonicalize(model))
