"""Exact division by a constant: a mean over a count that is not a power of two, quantized, has
one integer meaning (the rounding of sum / N on the quantizer's grid, ties as its mode says); the
emulator, QONNX execution and the exact rational value agree on every input, and the firmware's
reciprocal is exact over its range."""
from fractions import Fraction
import math

import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir import verify
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.fixed import QONNX_ROUNDING, ConstantDivision, divide_round, reciprocal, shift_round
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import quantized_mean

MODES = QONNX_ROUNDING


def _exact(value: Fraction, mode: str) -> int:
    if mode == "FLOOR":
        return math.floor(value)
    if mode == "CEIL":
        return math.ceil(value)
    if mode == "DOWN":
        return math.trunc(value)
    sign = 1 if value >= 0 else -1
    if mode == "UP":
        return math.ceil(abs(value)) * sign
    if mode == "HALF_UP":
        return int(math.floor(abs(value) + Fraction(1, 2))) * sign
    if mode == "HALF_DOWN":
        return int(math.ceil(abs(value) - Fraction(1, 2))) * sign
    return round(value)  # Fraction rounds half to even


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("divisor", [1, 2, 3, 6, 7, 12, 30])
def test_divide_round_is_the_exact_rounding(mode, divisor):
    m = np.arange(-200, 201)
    expected = [_exact(Fraction(int(v), divisor), mode) for v in m]
    assert divide_round(m, divisor, mode).tolist() == expected
    assert divide_round(m.astype(object), divisor, mode).tolist() == expected
    if divisor in (1, 2):  # a power of two: the same as the shift
        assert shift_round(m, divisor - 1, mode).tolist() == expected


def test_reciprocal_exact_over_its_range_and_not_beyond():
    rng = np.random.default_rng(0)
    for _ in range(400):
        d, lo = int(rng.integers(1, 300)), int(rng.integers(-3000, 100))
        hi = lo + int(rng.integers(0, 5000))
        division = ConstantDivision.over(d, lo, hi)
        a = np.arange(lo, hi + 1).astype(object)
        assert division.floor(a).tolist() == [v // d for v in range(lo, hi + 1)]
    r, s = reciprocal(7, 100)  # 2**s >= 100 * 7 ...
    assert 2**s >= 700 and r == -(-(2**s) // 7)
    top = 2**(s + 6)  # ... and far beyond the range it was made for, it is off
    assert any((x * r) >> s != x // 7 for x in range(top - 10_000, top))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [3, 5, 6, 12])
@pytest.mark.parametrize("signed,narrow,out_scale", [(1, 0, 2.0**-2), (1, 1, 2.0**-5), (0, 0, 2.0**-1)])
def test_quantized_mean_exact(mode, n, signed, narrow, out_scale):
    model = canonicalize(quantized_mean(n, mode, signed=signed, narrow=narrow, out_scale=out_scale))
    assert [node.op_type for node in model.graph.node] == ["Quant", "ReduceSum", "DivQuant"]
    verify(model)
    x = grid_inputs(model, 3000, seed=n)
    got = emulate(model, x).reshape(len(x), -1)
    np.testing.assert_array_equal(got, qonnx_execute(model, x))
    bits, f_out = 6, -int(math.log2(out_scale))
    lo = -(2 ** (bits - 1)) + narrow if signed else 0
    hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    sums = np.rint(x.astype(np.float64) * 8).astype(np.int64).sum(axis=1)  # input grid 2**-3
    expected = [[min(max(_exact(Fraction(int(s) * 2**f_out, n * 8), mode), lo), hi) * 2.0**-f_out for s in row]
                for row in sums]
    np.testing.assert_array_equal(got, np.asarray(expected))
    ties = sum(Fraction(int(s) * 2**f_out, n * 8).denominator == 2 for s in sums.ravel())
    if any(Fraction(k * 2**f_out, n * 8).denominator == 2 for k in range(n * 8)):  # ties exist on this grid
        assert ties > 0  # and the inputs hit them: the rounding mode mattered


@pytest.mark.parametrize("mode", ["ROUND", "HALF_UP"])
def test_division_moves_through_a_linear_layer(mode):
    """mean -> MatMul -> Add(bias) -> Relu -> Quant: the sum flows on, the bias is N times
    itself, and the Quant divides; equal to the exact rational value everywhere. The float32
    graph it came from rounds sum / 6 before the product, so it can miss an exact tie: it
    differs only there."""
    from onnx import numpy_helper

    source = quantized_mean(6, mode, dense=True, out_scale=2.0**-4, bits=10)
    model = canonicalize(source)
    assert [node.op_type for node in model.graph.node] == ["Quant", "ReduceSum", "MatMul", "Add", "Relu", "DivQuant"]
    x = grid_inputs(model, 3000, seed=3)
    got = emulate(model, x).reshape(len(x), -1)
    np.testing.assert_array_equal(got, qonnx_execute(model, x))
    inits = {t.name: numpy_helper.to_array(t) for t in source.graph.initializer}
    w = [[Fraction(float(v)) for v in row] for row in inits["W"]]
    b = [Fraction(float(v)) for v in inits["B"]]
    sums = np.rint(x.astype(np.float64) * 8).astype(np.int64).sum(axis=1)
    exact = [[max(sum(Fraction(int(s), 48) * w[i][j] for i, s in enumerate(row)) + b[j], 0) * 16 for j in range(3)]
             for row in sums]
    expected = np.asarray([[min(_exact(v, mode), 511) / 16 for v in row] for row in exact])
    np.testing.assert_array_equal(got, expected)
    float_graph = qonnx_execute(source, x)
    differ = got != float_graph
    assert all(exact[i][j].denominator == 2 for i, j in zip(*np.nonzero(differ)))


def test_unquantized_mean_refused_naming_the_node():
    model = quantized_mean(6, "ROUND")
    model.graph.node.remove(model.graph.node[-1])  # the mean is the output, nothing quantizes it
    model.graph.node[-1].output[0] = "y"
    with pytest.raises(L1ForgeError, match=r"\('mean' in the source model\): unquantized mean .* division by 6"):
        verify(canonicalize(model))
