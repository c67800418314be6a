"""Passes: pooling lowering, canonicalization, type inference; each keeps QONNX's meaning."""
import numpy as np
import pytest

from qonnx.transformation.infer_shapes import InferShapes

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir import verify
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.ir.types import infer_fixed_point_types
from l1forge.compiler.passes.pooling import LowerSetPooling
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import bias_free_gemm, channels_first_pooling, float_scale_dense, signed_requant, unsqueeze_reduce_squeeze


def ops(model):
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("kind,reduce", [("GlobalAveragePool", "ReduceMean"), ("GlobalMaxPool", "ReduceMax")])
@pytest.mark.parametrize("opset", [13, 18])
def test_channels_first_global_pool_becomes_particle_reduce(kind, reduce, opset):
    raw = channels_first_pooling(kind, opset=opset)
    x = grid_inputs(canonicalize(channels_first_pooling(kind, opset=opset)), 3000, seed=1)
    before = qonnx_execute(raw, x)
    model = canonicalize(raw)
    assert ops(model) == ["Quant", reduce]
    node = model.graph.node[1]
    axes = model.get_initializer(node.input[1]) if len(node.input) > 1 else [a.ints for a in node.attribute if a.name == "axes"][0]
    assert list(np.asarray(axes).ravel()) == [1]
    np.testing.assert_array_equal(qonnx_execute(model, x), before)
    np.testing.assert_array_equal(emulate(model, x).reshape(before.shape), before)


def test_unsqueeze_reduce_squeeze_is_folded():
    raw = unsqueeze_reduce_squeeze()
    model = canonicalize(unsqueeze_reduce_squeeze())
    assert ops(model) == ["Quant", "ReduceMean"]
    x = grid_inputs(model, 2000, seed=2)
    np.testing.assert_array_equal(qonnx_execute(model, x), qonnx_execute(raw, x))
    np.testing.assert_array_equal(emulate(model, x).reshape(len(x), -1), qonnx_execute(raw, x))


def test_lower_set_pooling_leaves_canonical_graphs_alone():
    model = canonicalize(channels_first_pooling("GlobalAveragePool"))
    before = [n.SerializeToString() for n in model.graph.node]
    after = [n.SerializeToString() for n in model.transform(LowerSetPooling()).graph.node]
    assert before == after


def test_types_are_exact_and_never_overflow():
    model = canonicalize(channels_first_pooling("GlobalAveragePool", n=8))
    types = infer_fixed_point_types(model)
    tin = types[model.graph.node[0].output[0]]
    assert (tin.signed, tin.width, tin.frac) == (True, 8, 4)
    mean = types[model.graph.output[0].name]
    # the mean of 8 values of sfix<8,4> needs 3 more fractional bits, the same integer bits
    assert (mean.signed, mean.width, mean.frac) == (True, 11, 7)
    x = grid_inputs(model, 5000)
    env = emulate(model, x, all_tensors=True)
    for name, t in types.items():
        assert env[name].lo.min() >= t.min_int and env[name].lo.max() <= t.max_int, name


def test_non_power_of_two_scale_is_named_by_canonicalize_and_verify():
    with pytest.raises(L1ForgeError, match=r"node q_in \(Quant\): non power-of-two scale: scale 0.1(0*1)? is not 2\*\*k"):
        canonicalize(float_scale_dense(0.1))
    found = verify(float_scale_dense(0.1).transform(InferShapes()), raise_on_error=False)
    assert [(v.node, v.rule) for v in found] == [("q_in", "non power-of-two scale")]
    with pytest.raises(L1ForgeError, match="node q_in: non power-of-two scale"):
        verify(float_scale_dense(0.1))


def test_power_of_two_version_of_the_same_graph_verifies():
    model = canonicalize(float_scale_dense(0.125))
    assert verify(model) == []


def test_emulator_int64_and_float64_mantissas_agree():
    """The emulator carries mantissas as float64 for speed when types are narrow; the int64 path
    (used for wide models) must give the same integers."""
    from l1forge.compiler.ir.interpret import walk

    from tests.graphs import per_particle_dense

    for model in (canonicalize(per_particle_dense()), canonicalize(channels_first_pooling("GlobalAveragePool"))):
        x = grid_inputs(model, 3000, seed=11)
        name = model.graph.input[0].name
        a = walk(model, {name: x}, float_mantissas=False)
        b = walk(model, {name: x}, float_mantissas=True)
        for t in a:
            assert a[t].lo.dtype == np.int64 and b[t].lo.dtype in (np.float64, np.int64)
            assert a[t].frac == b[t].frac
            np.testing.assert_array_equal(a[t].lo, b[t].lo.astype(np.int64))


def test_gemm_without_bias_is_canonicalized():
    """qonnx 1.0's GemmToMatMul indexes the optional C of a Gemm and fails on a bias-free one
    (a Linear(bias=False)); canonicalize gives such a Gemm C = 0 first. When qonnx fixes it, the
    first assertion fails and GemmBiasesExplicit can go."""
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul

    with pytest.raises(IndexError):
        bias_free_gemm().transform(GemmToMatMul())
    raw = bias_free_gemm()
    model = canonicalize(bias_free_gemm())
    assert "Gemm" not in ops(model) and "MatMul" in ops(model)
    x = grid_inputs(model, 3000, seed=2)
    before = qonnx_execute(raw, x)
    np.testing.assert_array_equal(qonnx_execute(model, x), before)
    np.testing.assert_array_equal(emulate(model, x).reshape(before.shape), before)


@pytest.mark.parametrize("name,canonical", [("ROUND_TO_ZERO", "DOWN"), ("HALF_EVEN", "ROUND"), ("half_up", "HALF_UP")])
def test_rounding_mode_names_are_canonical(name, canonical):
    """Brevitas exports truncation toward zero as ROUND_TO_ZERO, which qonnx's own execution does
    not know; qonnx reads HALF_EVEN as ROUND and any case. canonicalize names each mode once, so
    QONNX executes the canonical model and the compiler reads one vocabulary."""
    model = canonicalize(signed_requant(name))
    modes = {a.s.decode() for n in model.graph.node for a in n.attribute if a.name == "rounding_mode"}
    assert modes == {"ROUND", canonical}  # the input quantizer rounds half to even
    x = grid_inputs(model, 3000, seed=4)
    np.testing.assert_array_equal(emulate(model, x), qonnx_execute(model, x).reshape(emulate(model, x).shape))
    np.testing.assert_array_equal(emulate(model, x), emulate(canonicalize(signed_requant(canonical)), x))
