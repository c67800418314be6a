"""The op registry: every canonical op defined once.

An OpDef holds an op's static verify rule (`check`, optional: what `verify` can refuse before
any walk) and its rule on Fx operands (`apply`). The rule is at once the op's exact integer
semantics (on data: the emulator) and its type rule (on element-wise bounds: exact fixed-point
type inference), because an Fx carries either. `verify`, the emulator and type inference are walks
over this table (compiler.ir.interpret); each backend has one lowering table keyed by the same op
names, and SUPPORTED_OPS is derived from the registry.

Adding an op: one `@define` here, one entry per backend's lowering table, and tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from .custom_ops import lookup, table_attributes
from .fixed import log2_exact
from .integer import (Fx, NotExact, check_quant, const_mantissa, element_frac, int_matmul, quant_bounds,
                      requantize_channels)
from .model import attr, axis_attr, const, gather_indices, reduce_axes

ShapeOf = Callable[[str], list]
Rule = Callable[[ModelWrapper, object, list, ShapeOf], Fx]


@dataclass(frozen=True)
class OpDef:
    """One canonical op: its name (the ONNX op type), what it does, its rule and static check."""
    name: str
    summary: str
    apply: Rule
    check: Callable[[ModelWrapper, object], None] | None = None


OPS: dict[str, OpDef] = {}


def define(*names: str, summary: str, check=None):
    """Register the decorated rule as the definition of the ops `names`."""
    def register(rule: Rule) -> Rule:
        for name in names:
            if name in OPS:
                raise ValueError(f"op {name} is defined twice")
            OPS[name] = OpDef(name, summary, rule, check)
        return rule
    return register


MAX_ACTIVATION_BITS = 24


@define("Quant", summary="requantize to a power-of-two grid, per tensor or per channel (zero point 0), with "
                         "rounding and saturation",
        check=check_quant)
def _quant(model, node, ins, shape_of) -> Fx:
    return _requantized(model, node, ins[0], 1)


@define("DivQuant", summary="a Quant of its input divided by a constant integer (l1forge custom op: a mean "
                            "over a count that is not a power of two, quantized, exactly)",
        check=check_quant)
def _div_quant(model, node, ins, shape_of) -> Fx:
    divisor = int(attr(node, "divisor", 1))
    if divisor < 1:
        raise NotExact(node, "DivQuant divisor", f"divisor {divisor} must be a positive integer")
    return _requantized(model, node, ins[0], divisor)


def _requantized(model, node, x: Fx, divisor: int) -> Fx:
    p = check_quant(model, node)
    if int(p["bit_width"]) > MAX_ACTIVATION_BITS:
        raise NotExact(node, f"activation quantizer wider than {MAX_ACTIVATION_BITS} bits",
                       f"{int(p['bit_width'])} bits: qonnx computes Quant in float32, exact to 24 bits only")
    lo, hi = quant_bounds(p)
    f_el = element_frac(node, p, x.lo.shape)
    return x.map(lambda m: requantize_channels(m, x.frac, p, f_el, lo, hi, divisor)).with_frac(p["frac"])


@define("MatMul", summary="product with a constant right operand (weights on a power-of-two grid)")
def _matmul(model, node, ins, shape_of) -> Fx:
    w = const(model, node.input[1])
    if w is None or ins[0] is None:
        raise NotExact(node, "MatMul operands", "needs a computed left operand and a constant right operand")
    wm, wf = const_mantissa(w, node, f"weight {node.input[1]}")
    x = ins[0]
    if x.is_exact:
        return Fx.exact(int_matmul(x.lo, wm), x.frac + wf)
    pos, neg = np.maximum(wm, 0), np.minimum(wm, 0)
    return Fx(x.lo @ pos + x.hi @ neg, x.hi @ pos + x.lo @ neg, x.frac + wf)


@define("Add", summary="elementwise sum of two tensors (computed or constant), aligned to the finer grid")
def _add(model, node, ins, shape_of) -> Fx:
    a, b = (_operand(model, node, i, ins[i]) for i in range(2))
    f = max(a.frac, b.frac)
    a, b = a.shifted_to(f), b.shifted_to(f)
    if a.is_exact and b.is_exact:
        return Fx.exact(a.lo + b.lo, f)
    return Fx(a.lo + b.lo, a.hi + b.hi, f)


@define("Relu", summary="max(x, 0)")
def _relu(model, node, ins, shape_of) -> Fx:
    return ins[0].map(lambda m: np.maximum(m, 0))


@define("Min", summary="elementwise minimum with a constant on a power-of-two grid (an upper saturation "
                       "bound per channel)")
def _min(model, node, ins, shape_of) -> Fx:
    if sum(v is None for v in ins) != 1 or len(ins) != 2:
        raise NotExact(node, "Min operands", "needs one computed tensor and one constant bound")
    i = 0 if ins[0] is not None else 1
    a = ins[i]
    m, f = const_mantissa(const(model, node.input[1 - i]), node, f"bound {node.input[1 - i]}")
    if m.ndim > a.lo.ndim - 1 and (m.ndim > a.lo.ndim or m.shape[0] != 1):
        raise NotExact(node, "Min bound shape", f"bound of shape {m.shape} is not one value per element of a sample")
    b = Fx.exact(m.reshape((1,) * (a.lo.ndim - m.ndim) + m.shape), f)
    f = max(a.frac, b.frac)
    a, b = a.shifted_to(f), b.shifted_to(f)
    if a.is_exact:
        return Fx.exact(np.minimum(a.lo, b.lo), a.frac)
    return Fx(np.minimum(a.lo, b.lo), np.minimum(a.hi, b.lo), a.frac)


@define("ReduceSum", "ReduceMean", "ReduceMax",
        summary="sum / mean over a power-of-two count (other counts: ExactMeans makes a DivQuant) / max "
                "over non-batch axes")
def _reduce(model, node, ins, shape_of) -> Fx:
    x = ins[0]
    axes = reduce_axes(model, node, x.lo.ndim)
    if axes is None:
        raise NotExact(node, "dynamic axes", "reduction axes must be constant")
    if 0 in axes:
        raise NotExact(node, "reduction over the batch axis", "reduce over particle or feature axes only")
    keep = bool(attr(node, "keepdims", 1))
    fn = np.max if node.op_type == "ReduceMax" else np.sum
    out = x.map(lambda m: fn(m, axis=tuple(axes), keepdims=keep))
    if node.op_type != "ReduceMean":
        return out
    count = int(np.prod([x.lo.shape[a] for a in axes]))
    k = log2_exact(count)
    if k is None:
        raise NotExact(node, "unquantized mean over a non power-of-two count",
                       f"mean over {count} elements is a division by {count} with no exact fixed-point value; "
                       "quantize it (a Quant right after it, or after linear layers) or use sum pooling")
    return out.with_frac(out.frac + k)


@define("Mul", summary="elementwise product of two computed tensors (exact: the grids' fractions add), or "
                       "multiplication by one constant power-of-two scalar (a shift)")
def _mul(model, node, ins, shape_of) -> Fx:
    if all(v is not None for v in ins):
        a, b = ins
        if a.is_exact and b.is_exact:
            return Fx.exact(a.lo * b.lo, a.frac + b.frac)
        corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        return Fx(np.minimum.reduce(corners), np.maximum.reduce(corners), a.frac + b.frac)
    x, c = (ins[0], node.input[1]) if ins[0] is not None else (ins[1], node.input[0])
    cv = const(model, c)
    if cv is None or np.unique(cv).size != 1:
        raise NotExact(node, "Mul operands", "a constant factor must be one scalar (a power of two)")
    value = float(np.unique(cv)[0])
    k = log2_exact(abs(value))
    if k is None or value < 0:
        raise NotExact(node, "non power-of-two scale", f"multiplier {value:.9g} is not 2**k")
    return x.with_frac(x.frac - k)


@define("Table", summary="a function of one quantized input as a table of output mantissas (l1forge custom "
                         "op; the table is its meaning)")
def _table(model, node, ins, shape_of) -> Fx:
    table = table_attributes(node)
    x = ins[0]
    if x.frac > table["in_frac"]:
        raise NotExact(node, "Table input grid", f"input on 2**-{x.frac} is finer than the table's 2**-{table['in_frac']}")
    x = x.shifted_to(table["in_frac"])
    top = table["in_min"] + len(table["values"]) - 1
    if int(x.lo.min()) < table["in_min"] or int(x.hi.max()) > top:
        raise NotExact(node, "Table input range", f"input mantissas [{int(x.lo.min())}, {int(x.hi.max())}] exceed "
                                                  f"the table's [{table['in_min']}, {top}]")
    if x.is_exact:
        return Fx.exact(lookup(x.lo, table), table["out_frac"])
    lo, hi = np.empty_like(x.lo), np.empty_like(x.hi)
    for a, b in set(zip(x.lo.ravel().tolist(), x.hi.ravel().tolist())):  # usually one shared range
        part = table["values"][a - table["in_min"]:b - table["in_min"] + 1]
        where = (x.lo == a) & (x.hi == b)
        lo[where], hi[where] = part.min(), part.max()
    return Fx(lo, hi, table["out_frac"])


@define("Reshape", "Flatten", summary="a new shape that keeps the batch axis first (wires)")
def _reshape(model, node, ins, shape_of) -> Fx:
    out_shape = shape_of(node.output[0])
    return ins[0].map(lambda m: m.reshape((m.shape[0],) + tuple(out_shape[1:])))


@define("Transpose", summary="a permutation of the non-batch axes (wires)")
def _transpose(model, node, ins, shape_of) -> Fx:
    perm = list(attr(node, "perm"))
    if perm[0] != 0:
        raise NotExact(node, "transpose of the batch axis", f"perm {perm} moves the batch axis")
    return ins[0].map(lambda m: np.transpose(m, perm))


@define("Gather", summary="selection with constant indices along a non-batch axis (wires)")
def _gather(model, node, ins, shape_of) -> Fx:
    x = ins[0]
    if x is None or const(model, node.input[1]) is None:
        raise NotExact(node, "Gather operands", "needs a computed tensor and constant indices")
    axis = _data_axis(node, x.lo.ndim)
    size = x.lo.shape[axis]
    idx = gather_indices(model, node, size)
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise NotExact(node, "Gather indices", f"indices must lie in [-{size}, {size}) on axis {axis}")
    return x.map(lambda m: np.take(m, idx, axis=axis))


@define("Concat", summary="concatenation along a non-batch axis, aligned to the finest grid (wires)")
def _concat(model, node, ins, shape_of) -> Fx:
    parts = [_operand(model, node, i, v) for i, v in enumerate(ins)]
    axis = _data_axis(node, parts[0].lo.ndim)
    f = max(p.frac for p in parts)
    parts = [p.shifted_to(f) for p in parts]
    lo = np.concatenate([p.lo for p in parts], axis=axis)
    if all(p.is_exact for p in parts):
        return Fx.exact(lo, f)
    return Fx(lo, np.concatenate([p.hi for p in parts], axis=axis), f)


SUPPORTED_OPS = tuple(OPS)


def unsupported(node) -> NotExact:
    """The refusal of an op outside the registry."""
    return NotExact(node, "unsupported op",
                    f"{node.op_type} is not in the canonical op set ({', '.join(SUPPORTED_OPS)})")


def apply_node(model: ModelWrapper, node, ins: list, shape_of: ShapeOf) -> Fx:
    """The rule of one canonical node on Fx operands (None for constant inputs)."""
    definition = OPS.get(node.op_type)
    if definition is None:
        raise unsupported(node)
    return definition.apply(model, node, ins, shape_of)


def _data_axis(node, rank: int) -> int:
    axis = axis_attr(node, rank)
    if axis == 0:
        raise NotExact(node, f"{node.op_type} over the batch axis", "route along particle or feature axes only")
    return axis


def _operand(model, node, i: int, value: Fx | None) -> Fx:
    if value is not None:
        return value
    c = const(model, node.input[i])
    if c is None:
        raise NotExact(node, "missing operand", f"input {node.input[i]} is neither computed nor constant")
    m, f = const_mantissa(c, node, f"constant {node.input[i]}")
    m = m[None] if m.ndim else m
    return Fx.exact(m, f)
