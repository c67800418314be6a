"""trace_model: the canonical IR as one da4ml combinational program (CombLogic).

Each canonical op becomes the da4ml operation with the same fixed-point meaning: MatMul with a
constant -> x @ W (a multiplierless adder graph), Add -> adders, Relu -> max(x, 0), Quant ->
quantize with saturation (round half to even built from da4ml's truncation, which only offers
truncation and half-up), Reduce* -> adder / comparator trees (mean: the sum times 2**-k),
Gather / Transpose / Reshape / Concat -> wiring, Table -> a lookup ROM per element, Mul of two
computed tensors -> multipliers, DivQuant -> an exact division by a constant (a constant product
and a truncation per floor division) with the quantizer's rounding and saturation. The input port carries the input quantizer's
type; the firmware is fed the quantized input (as the hls4ml backend's input is).
"""
from __future__ import annotations

import decimal
from fractions import Fraction

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ...ir.custom_ops import table_attributes
from ...ir.fixed import ConstantDivision, divide_round, division_operands, shift_round
from ...ir.integer import NotExact, check_quant, element_frac, quant_bounds, quant_type
from ...ir.model import attr, axis_attr, const, gather_indices, reduce_axes


# da4ml 0.6.0 gives a constant at most 32 fraction bits (fixed_variable._const_f searches no
# further): a constant added to a variable loses its finer bits, and a constant output of 2**-40
# comes out 0. Found by the fuzzer (tests/fuzz/regressions); pinned in tests/compiler/backends/test_rtl.py.
DA4ML_CONSTANT_BITS = 32


def _fraction_bits(c) -> int:
    """The fraction bits of a constant on a power-of-two grid."""
    return Fraction(decimal.Decimal(c)).denominator.bit_length() - 1


def _plus(v, c):
    """v + c for one FixedVariable and a constant, exact: a constant with more fraction bits than
    da4ml keeps is added to v scaled by 2**k, and the sum scaled back (both exact shifts)."""
    c = decimal.Decimal(c)
    k = _fraction_bits(c) - DA4ML_CONSTANT_BITS
    if k <= 0 or v.low == v.high:
        return v + c
    return (v * 2.0**k + c * decimal.Decimal(2) ** k) * 2.0**-k


def _plus_array(x, c: np.ndarray):
    """x + c for a traced array and a constant array (_plus per element where the constant needs it)."""
    from da4ml.trace import FixedVariableArray

    c = np.asarray(c, dtype=np.float64)
    if np.broadcast_shapes(x.shape, c.shape) != x.shape or all(
            _fraction_bits(v) <= DA4ML_CONSTANT_BITS for v in np.unique(c)):
        return x + c
    flat = [_plus(v, cv) for v, cv in zip(np.ravel(x._vars), np.broadcast_to(c, x.shape).ravel())]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options, hwconf=x.hwconf)


def _clip(x, low, high):
    """x limited to [low, high] by relu arithmetic: min(x, h) = x - relu(x - h), max(x, l) =
    x + relu(l - x). da4ml 0.6.0's own saturation (quantize with SAT, max_of / min_of a constant)
    muxes in a constant that, under some scale factors its traced variables carry, comes out 0:
    found by the fuzzer (tests/fuzz/regressions), pinned in tests/compiler/backends/test_rtl.py."""
    low, high = decimal.Decimal(low), decimal.Decimal(high)
    if x.high > high:
        x = x - _plus(x, -high).relu()
    if x.low < low:
        x = x + _plus(-x, low).relu()
    return x


def _saturated(v, k: int, i: int, f: int, overflow: str):
    """v truncated to f fraction bits (no integer bit dropped), clipped to the range of (k, i, f)
    (symmetric for SAT_SYM) and given that type."""
    kin, iin, _ = v.kif
    v = v.quantize(kin, max(iin, -f) + 1, f, "WRAP", "TRN")  # the floor may step below v's range by < 2**-f
    step, top = decimal.Decimal(2) ** -f, decimal.Decimal(2) ** i
    low = (-top + (step if overflow == "SAT_SYM" else 0)) if k else 0
    return _clip(v, low, top - step).quantize(k, i, f, "WRAP", "TRN")


def _round_half_even(v, k: int, i: int, f: int, overflow: str):
    """One FixedVariable rounded half to even to f fraction bits, then saturated to (k, i, f):
    adding 2**-(f+1) - 2**-f_in, plus 2**-f_in when the kept part is odd, and truncating."""
    f_in = v.kif[2]
    if f_in <= f:
        return _saturated(v, k, i, f, overflow)
    lsb = v.quantize(0, 1 - f, f)  # the bit of weight 2**-f: 0 or 2**-f
    return _saturated(v + _plus(lsb * 2.0 ** (f - f_in), 2.0 ** (-f - 1) - 2.0 ** -f_in), k, i, f, overflow)


def _round_half_away(v, k: int, i: int, f: int, overflow: str):
    """One FixedVariable rounded half away from zero (qonnx's HALF_UP) to f fraction bits, then
    saturated: adding 2**-(f+1), minus 2**-f_in when negative, and truncating."""
    return _round_by_offset(v, k, i, f, overflow, lambda step, lsb: (step / 2, -lsb))


def _round_by_offset(v, k: int, i: int, f: int, overflow: str, offsets):
    """v rounded to f fraction bits by adding a constant (plus another when v is negative) and
    truncating, then saturated; offsets(step, lsb) gives the two constants from the output step
    2**-f and the input's last bit 2**-f_in."""
    f_in = v.kif[2]
    if f_in <= f:
        return _saturated(v, k, i, f, overflow)
    base, if_negative = offsets(2.0 ** -f, 2.0 ** -f_in)
    if if_negative and v.low < 0:
        v = v + v.is_negative() * if_negative
    return _saturated(_plus(v, base) if base else v, k, i, f, overflow)


def _rounder(offsets):
    return lambda v, k, i, f, overflow: _round_by_offset(v, k, i, f, overflow, offsets)


def _kif(node, p: dict, shape) -> tuple:
    """(k, i, f) of a Quant's output on traced arrays of `shape` (no batch axis): scalars per
    tensor, element-wise arrays per channel (each channel's own grid and integer bits)."""
    t = quant_type(p)
    if p["channel_frac"] is None:
        return t.kif
    f = np.asarray(element_frac(node, p, (1,) + tuple(shape)))[0]
    k = int(p["signed"])
    return np.full(f.shape, k), int(p["bit_width"]) - k - f, f


# Each qonnx rounding mode as truncation after adding constants (step: the output's last bit,
# lsb: the input's): CEIL adds step - lsb, UP does so only when positive, DOWN only when negative,
# HALF_DOWN adds step / 2 - lsb, plus lsb when negative (a tie goes toward zero).
ROUNDERS = {"ROUND": _round_half_even, "HALF_UP": _round_half_away, "FLOOR": _saturated,
            "CEIL": _rounder(lambda step, lsb: (step - lsb, 0)),
            "UP": _rounder(lambda step, lsb: (step - lsb, lsb - step)),
            "DOWN": _rounder(lambda step, lsb: (0, step - lsb)),
            "HALF_DOWN": _rounder(lambda step, lsb: (step / 2 - lsb, lsb))}


def _quantize_constant(v, k: int, i: int, f: int, overflow: str, mode: str):
    """A constant FixedVariable rounded and saturated exactly, with the emulator's integer rounding.
    da4ml 0.6.0 folds constants through its wrap arithmetic, which is wrong for negative values
    (Decimal's remainder takes the dividend's sign) and unsigned types (twice the modulus): the
    half-to-even bit of -43/512 on a 2**-6 grid comes out -2**-5 instead of 0."""
    from da4ml.trace.fixed_variable import FixedVariable

    value = Fraction(v.low)
    f_in = max(f, value.denominator.bit_length() - 1)  # the denominator is a power of two
    mantissa = int(shift_round(np.array([int(value * 2**f_in)], dtype=object), f_in - f, mode)[0])
    top = 2 ** (i + f) - 1
    bottom = (-top if overflow == "SAT_SYM" else -top - 1) if k else 0
    rounded = min(max(mantissa, bottom), top)
    return FixedVariable.from_const(decimal.Decimal(rounded) * decimal.Decimal(2) ** -f, hwconf=v.hwconf)


def _requantize(node, x, p: dict):
    from da4ml.trace import FixedVariableArray

    if p["narrow"] and not p["signed"]:
        raise NotExact(node, "quantizer not expressible in RTL", "narrow unsigned quantizers are not supported")
    mode = p["rounding_mode"]
    k, i, f = (np.broadcast_to(v, x.shape) for v in _kif(node, p, x.shape))
    overflow = "SAT_SYM" if p["narrow"] else "SAT"

    def one(v, kv, iv, fv):
        kv, iv, fv = int(kv), int(iv), int(fv)
        if v.low == v.high:
            return _quantize_constant(v, kv, iv, fv, overflow, mode)
        return ROUNDERS[mode](v, kv, iv, fv, overflow)

    flat = [one(*e) for e in zip(np.ravel(x._vars), k.ravel(), i.ravel(), f.ravel())]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options, hwconf=x.hwconf)


# da4ml multiplies by a constant through a float64 (its canonical signed digits): exact below 2**53
MAX_DIVISION_BITS = 52


def _floor_division(node, a, times: int, plus: int, den: int):
    """floor((times * a + plus) / den) of an integer-valued FixedVariable a: a constant offset
    makes the numerator non-negative, then one constant product and a truncation
    (compiler.ir.fixed.ConstantDivision)."""
    lo, hi = sorted((times * int(a.low) + plus, times * int(a.high) + plus))
    division = ConstantDivision.over(den, lo, hi)
    if (division.top * division.recip).bit_length() > MAX_DIVISION_BITS:
        raise NotExact(node, "division too wide for the RTL backend",
                       f"an exact division by {den} over [{lo}, {hi}] needs a product wider than {MAX_DIVISION_BITS} bits")
    x = a * times + (plus + division.offset * den)
    product = (x * division.recip) * 2.0 ** -division.shift
    quotient = product.quantize(0, max(1, (division.top // den).bit_length()), 0, "WRAP", "TRN")
    return quotient - division.offset


def _rounded_division(node, a, den: int, mode: str):
    """a / den rounded as the emulator's divide_round does, from floor divisions only: floor is
    floor(a / den), ceil floor((a + den - 1) / den), ties up floor((2a + den) / 2den), ties down
    floor((2a + den - 1) / 2den); the sign of a chooses between two of them (SIGNED_CHOICE), the
    parity of the ties-up result for ROUND (half to even)."""
    forms = {"floor": (1, 0, den), "ceil": (1, den - 1, den), "ties up": (2, den, 2 * den),
             "ties down": (2, den - 1, 2 * den)}
    if mode == "ROUND":  # at a tie ties-up = ties-down + 1: keep ties-up unless it is odd
        low, high = (_floor_division(node, a, *forms[k]) for k in ("ties down", "ties up"))
        odd = high.quantize(0, 1, 0, "WRAP", "TRN")  # the last bit of the integer high
        return high - ((high - low) + odd - 1).relu()  # minus (tie and odd)
    if_negative, otherwise = SIGNED_CHOICE[mode]
    positive = _floor_division(node, a, *forms[otherwise])
    if a.low >= 0 or if_negative == otherwise:
        return positive
    return a.msb_mux(_floor_division(node, a, *forms[if_negative]), positive)


# The floor division each rounding mode takes for a negative and for a non-negative numerator.
SIGNED_CHOICE = {"FLOOR": ("floor", "floor"), "CEIL": ("ceil", "ceil"), "DOWN": ("ceil", "floor"),
                 "UP": ("floor", "ceil"), "HALF_UP": ("ties down", "ties up"), "HALF_DOWN": ("ties up", "ties down")}


def _div_quant(model, node, ins, rank):
    """DivQuant per element: the numerator (the input's mantissa on the output grid) divided by
    the constant, rounded, saturated, put on the output grid."""
    from da4ml.trace import FixedVariableArray
    from da4ml.trace.fixed_variable import FixedVariable

    p = check_quant(model, node)
    x, divisor, mode = ins[0], int(attr(node, "divisor")), p["rounding_mode"]
    out_min, out_max = quant_bounds(p)
    fracs = np.broadcast_to(_kif(node, p, x.shape)[2], x.shape)

    def one(v, f_out):
        f_in = int(v.kif[2])
        up, den = division_operands(f_in - int(f_out), divisor)
        scale = 2 ** (f_in + up)
        if v.low == v.high:  # a constant: computed here (da4ml folds constants through float and wrap arithmetic)
            q = int(divide_round(np.array([int(Fraction(v.low) * scale)], dtype=object), den, mode)[0])
            return FixedVariable.from_const(decimal.Decimal(min(max(q, out_min), out_max)) * decimal.Decimal(2) ** -int(f_out),
                                            hwconf=v.hwconf)
        q = _rounded_division(node, v * float(scale), den, mode)
        return _clip(q, out_min, out_max) * 2.0 ** -int(f_out)

    flat = [one(v, f) for v, f in zip(np.ravel(x._vars), fracs.ravel())]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(x.shape), x.solver_options, hwconf=x.hwconf)


def _array(value):
    """Whole-array reductions give one FixedVariable: make it an array again."""
    from da4ml.trace import FixedVariableArray

    return value if isinstance(value, FixedVariableArray) else FixedVariableArray(np.array([value], dtype=object))


def _const_operand(model, name: str, rank: int) -> np.ndarray:
    c = np.asarray(const(model, name), dtype=np.float64)
    return c[0] if c.ndim == rank else c  # drop a batch axis of 1


def _quant(model, node, ins, rank):
    return _requantize(node, ins[0], check_quant(model, node))


def _matmul(model, node, ins, rank):
    return ins[0] @ np.asarray(const(model, node.input[1]), dtype=np.float64)


def _other_operand(model, node, ins, rank):
    return ins[1] if ins[1] is not None else _const_operand(model, node.input[1], rank)


def _add(model, node, ins, rank):
    return ins[0] + ins[1] if ins[1] is not None else _plus_array(ins[0], _const_operand(model, node.input[1], rank))


def _mul(model, node, ins, rank):
    return ins[0] * _other_operand(model, node, ins, rank)


def _min(model, node, ins, rank):
    return np.minimum(ins[0], _other_operand(model, node, ins, rank))


def _relu(model, node, ins, rank):
    return np.maximum(ins[0], 0.0)


def _table(model, node, ins, rank):
    """Each element looked up in the IR's table (da4ml's lookup: a ROM on the input's bits)."""
    from da4ml.trace import FixedVariableArray

    table = table_attributes(node)
    step = 2.0 ** -table["in_frac"]
    values = table["values"] * 2.0 ** -table["out_frac"]
    domain = (table["in_min"] * step, (table["in_min"] + len(values) - 1) * step, step)
    flat = [v.lookup(values, original_qint=domain) for v in np.ravel(ins[0]._vars)]
    return FixedVariableArray(np.array(flat, dtype=object).reshape(ins[0].shape), ins[0].solver_options,
                              hwconf=ins[0].hwconf)


def _reduce(model, node, ins, rank):
    axes = tuple(a - 1 for a in reduce_axes(model, node, rank))
    keep = bool(attr(node, "keepdims", 1))
    if node.op_type == "ReduceMax":
        return _array(np.max(ins[0], axis=axes, keepdims=keep))
    total = _array(np.sum(ins[0], axis=axes, keepdims=keep))
    if node.op_type == "ReduceSum":
        return total
    return total * (1.0 / int(np.prod([model.get_tensor_shape(node.input[0])[a + 1] for a in axes])))


def _reshape(model, node, ins, rank):
    return ins[0].reshape(tuple(model.get_tensor_shape(node.output[0])[1:]))


def _transpose(model, node, ins, rank):
    return np.transpose(ins[0], [p - 1 for p in attr(node, "perm")[1:]])


def _gather(model, node, ins, rank):
    axis = axis_attr(node, rank) - 1  # batch axis excluded
    return np.take(ins[0], gather_indices(model, node, ins[0].shape[axis]), axis=axis)


def _concat(model, node, ins, rank):
    if any(v is None for v in ins):
        raise NotExact(node, "Concat of a constant", "the RTL backend concatenates computed tensors only")
    return np.concatenate(ins, axis=axis_attr(node, rank) - 1)


# The lowering table: canonical op (compiler.ir.ops) -> its da4ml operation on traced arrays
# (operands without the batch axis; `rank` is the first input's rank with it).
LOWERING = {
    "Quant": _quant, "MatMul": _matmul, "Add": _add, "Mul": _mul, "Min": _min, "Relu": _relu,
    "ReduceSum": _reduce, "ReduceMean": _reduce, "ReduceMax": _reduce,
    "Reshape": _reshape, "Flatten": _reshape, "Transpose": _transpose, "Gather": _gather, "Concat": _concat,
    "Table": _table, "DivQuant": _div_quant,
}


def _apply(model: ModelWrapper, node, ins: list):
    lower = LOWERING.get(node.op_type)
    if lower is None:
        raise NotExact(node, "unsupported op for the RTL backend", f"{node.op_type} has no da4ml lowering here")
    return lower(model, node, ins, len(model.get_tensor_shape(node.input[0])))  # rank with the batch axis


# da4ml keeps constants as Decimals divided by power-of-two scale factors; at Python's default
# 28 significant digits a bias with 17 fraction bits under a 2**-44 factor loses its last bit
# (seen: off by one LSB in 2 of 170 outputs). Powers of two down to 2**-200 are exact at 250.
DECIMAL_DIGITS = 250


def trace_model(model: ModelWrapper):
    """The canonical model as a da4ml CombLogic. Inputs to CombLogic.predict are
    the quantized input values, flattened; outputs are the model's outputs, flattened."""
    with decimal.localcontext() as ctx:
        ctx.prec = DECIMAL_DIGITS
        return _trace(model)


def trace_layers(model: ModelWrapper) -> tuple[object, list[tuple[str, tuple]]]:
    """Every node's output in one CombLogic (the program the Verilog is generated from, each
    layer kept): its outputs are the node outputs flattened and concatenated, in the order of the
    returned (node name, shape without the batch axis) list."""
    from da4ml.trace import FixedVariableArray, comb_trace

    with decimal.localcontext() as ctx:
        ctx.prec = DECIMAL_DIGITS
        port, env = _traced_tensors(model)
        nodes = list(model.graph.node)
        outs = [env[n.output[0]] for n in nodes]
        every = np.concatenate([np.ravel(o._vars) for o in outs])
        comb = comb_trace(port, FixedVariableArray(every, outs[0].solver_options, hwconf=outs[0].hwconf))
        return comb, [(n.name, tuple(o.shape)) for n, o in zip(nodes, outs)]


def _traced_tensors(model: ModelWrapper):
    """(input port, {tensor name: traced array}) for every node output."""
    from da4ml.trace import FixedVariableArrayInput

    nodes = list(model.graph.node)
    first, inp_name = nodes[0], model.graph.input[0].name
    if first.op_type != "Quant" or first.input[0] != inp_name:
        raise NotExact(first, "float tensor in the datapath", f"graph input {inp_name} must feed a Quant first")
    port = FixedVariableArrayInput(tuple(model.get_tensor_shape(inp_name)[1:]))
    # the port's type: the input quantizer's grid (each channel's own, per channel)
    env = {first.output[0]: port.quantize(*_kif(first, check_quant(model, first), port.shape))}
    for node in nodes[1:]:
        ins = [env.get(i) if i else None for i in node.input]
        if ins[0] is None:
            raise NotExact(node, "unsupported graph shape", f"{node.input[0]} is not computed by a previous node")
        env[node.output[0]] = _apply(model, node, ins)
    return port, env


def _trace(model: ModelWrapper):
    from da4ml.trace import comb_trace

    port, env = _traced_tensors(model)
    out = env[model.graph.output[0].name].ravel()
    fine = [v.low for v in np.ravel(out._vars) if v.low == v.high and _fraction_bits(v.low) > DA4ML_CONSTANT_BITS]
    if fine:
        raise NotExact(model.find_producer(model.graph.output[0].name), "constant output too fine for the RTL backend",
                       f"{len(fine)} outputs are the constant {float(fine[0]):.6g}, which has more than "
                       f"{DA4ML_CONSTANT_BITS} fraction bits (da4ml keeps no more)")
    return comb_trace(port, out)
