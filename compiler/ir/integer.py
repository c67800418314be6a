"""The integer meaning of the canonical IR: each tensor is an int64 mantissa array with a
fractional bit count (value = mantissa * 2**-frac). One table of op rules serves two walks:
on data (the emulator) and on per-element bounds (exact fixed-point type inference).

Canonical ops: Quant (power-of-two scale, zero point 0), MatMul with a constant right operand,
Add, Relu, ReduceSum/ReduceMean/ReduceMax over non-batch axes, Mul by a power-of-two scalar,
Reshape/Flatten and Transpose that keep the batch axis first, Gather with constant indices and
Concat along a non-batch axis (routing: they move values, never change them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import L1ForgeError
from .fixed import log2_exact, shift_round
from .model import attr, axis_attr, const, gather_indices, quant_params, reduce_axes

SUPPORTED_OPS = ("Quant", "MatMul", "Add", "Relu", "ReduceSum", "ReduceMean", "ReduceMax", "Mul",
                 "Reshape", "Flatten", "Transpose", "Gather", "Concat")
MAX_MANTISSA_BITS = 62


class NotExact(L1ForgeError):
    """A node whose result cannot be represented exactly in fixed point."""

    def __init__(self, node, rule: str, detail: str):
        self.node, self.rule, self.detail = node_label(node), rule, detail
        super().__init__(f"node {self.node} ({node.op_type}): {rule}: {detail}")


SOURCE_NAME_PREFIX = "l1forge-source-name:"


def node_label(node) -> str:
    """The node's name, with the name it had in the user's file when cleanup renamed it."""
    src = node.doc_string[len(SOURCE_NAME_PREFIX):] if node.doc_string.startswith(SOURCE_NAME_PREFIX) else ""
    return f"{node.name} ('{src}' in the source model)" if src and src != node.name else node.name


@dataclass
class Fx:
    """Mantissas with a common fractional bit count. `lo`/`hi` are element-wise bounds (type
    inference) or the same array twice (emulation: lo is hi)."""
    lo: np.ndarray
    hi: np.ndarray
    frac: int

    @classmethod
    def exact(cls, m: np.ndarray, frac: int) -> "Fx":
        return cls(m, m, frac)

    def shifted_to(self, frac: int) -> "Fx":
        s = frac - self.frac
        assert s >= 0
        if self.lo is self.hi:
            return Fx.exact(_shift_left(self.lo, s), frac)
        return Fx(self.lo << s, self.hi << s, frac)

    def map(self, fn) -> "Fx":
        lo = fn(self.lo)
        return Fx.exact(lo, self.frac) if self.lo is self.hi else Fx(lo, fn(self.hi), self.frac)


def const_mantissa(values: np.ndarray, node, what: str) -> tuple[np.ndarray, int]:
    """Integers m and frac with values == m * 2**-frac exactly, frac as small as possible."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise NotExact(node, "non-finite constant", f"{what} holds inf or NaN")
    nz = v[v != 0]
    if nz.size == 0:
        return np.zeros(v.shape, np.int64), 0
    mant, exp = np.frexp(nz)  # nz = mant * 2**exp, mant in [0.5, 1)
    # mant has at most 53 significant bits; the lowest set bit fixes the needed fraction.
    m53 = np.abs((mant * 2.0**53).astype(np.int64))
    tz = np.log2((m53 & -m53).astype(np.float64)).astype(np.int64)  # trailing zero bits (exact: powers of two)
    frac = int(np.max(53 - exp - tz))
    ints = v * 2.0**frac
    if np.max(np.abs(ints)) >= 2.0**MAX_MANTISSA_BITS:
        raise NotExact(node, "constant not on a power-of-two grid",
                       f"{what} needs more than {MAX_MANTISSA_BITS} bits (a float, not a fixed-point constant)")
    return ints.astype(np.int64), frac


def _shift_left(m: np.ndarray, s: int) -> np.ndarray:
    return m * 2.0**s if m.dtype == np.float64 else m << s


def _int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b in a's representation (int64, or float64 holding integers). Through
    float64 BLAS when every partial sum stays below 2**53 (each is then an exactly representable
    integer, whatever the summation order), else in int64."""
    if a.size and b.size and float(np.abs(a).max()) * float(np.abs(b).sum(axis=0).max()) < 2.0**53:
        out = a.astype(np.float64, copy=False) @ b.astype(np.float64)
        return out if a.dtype == np.float64 else out.astype(np.int64)
    out = a.astype(np.int64) @ b
    return out.astype(np.float64) if a.dtype == np.float64 else out


_FLOAT_ROUND = {"ROUND": np.round, "FLOOR": np.floor, "CEIL": np.ceil, "DOWN": np.trunc,
                "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5)}  # qonnx's meanings


def requantize(m: np.ndarray, shift: int, mode: str, lo: int, hi: int) -> np.ndarray:
    """clip(round(m * 2**-shift)) for int64 mantissas, or for float64 ones holding integers below
    2**53 (scaling by a power of two and rounding are then exact in float64)."""
    if m.dtype == np.float64:
        return np.clip(_FLOAT_ROUND[mode](m * 2.0**-shift), lo, hi)
    return np.clip(shift_round(m, shift, mode), lo, hi)


def quant_bounds(p: dict) -> tuple[int, int]:
    b = int(p["bit_width"])
    if p["signed"]:
        return -(1 << (b - 1)) + int(p["narrow"]), (1 << (b - 1)) - 1
    return 0, (1 << b) - 1 - int(p["narrow"])


def check_quant(model: ModelWrapper, node) -> dict:
    """Quant parameters, or NotExact if they break the canonical rules."""
    p = quant_params(model, node)
    if p["scale"] is None or p["zero_point"] is None or p["bit_width"] is None:
        raise NotExact(node, "dynamic quantizer", "scale, zero point and bit width must be constants")
    scales = np.unique(np.asarray(p["scale"], dtype=np.float64))
    if scales.size != 1:
        raise NotExact(node, "per-channel scale", f"{scales.size} different scales; use a per-tensor quantizer")
    k = log2_exact(scales[0])
    if k is None:
        raise NotExact(node, "non power-of-two scale",
                       f"scale {scales[0]:.9g} is not 2**k; use a fixed-point quantizer "
                       "(e.g. Brevitas Int8ActPerTensorFixedPoint)")
    if np.any(np.asarray(p["zero_point"]) != 0):
        raise NotExact(node, "non-zero zero point", "only symmetric (zero point 0) quantizers are exact")
    bits = np.asarray(p["bit_width"]).ravel()
    if bits.size != 1 or bits[0] != int(bits[0]) or not 1 <= bits[0] <= 32:
        raise NotExact(node, "bit width", f"bit width {bits} must be one integer in 1..32")
    if p["rounding_mode"] not in ("ROUND", "FLOOR", "CEIL", "DOWN", "HALF_UP"):
        raise NotExact(node, "rounding mode", f"{p['rounding_mode']} is not supported")
    p["frac"] = -k
    return p


def quant_float_input(x: np.ndarray, p: dict) -> np.ndarray:
    """Mantissas of a Quant applied to float data (the firmware's input conversion)."""
    scaled = np.asarray(x, dtype=np.float64) * 2.0 ** p["frac"]  # exact: power-of-two scaling
    r = _FLOAT_ROUND[p["rounding_mode"]](scaled)
    lo, hi = quant_bounds(p)
    return np.clip(r, lo, hi).astype(np.int64)


def _reduce_axes(model, node, rank: int) -> list[int]:
    axes = reduce_axes(model, node, rank)
    if axes is None:
        raise NotExact(node, "dynamic axes", "reduction axes must be constant")
    if 0 in axes:
        raise NotExact(node, "reduction over the batch axis", "reduce over particle or feature axes only")
    return axes


def apply_node(model: ModelWrapper, node, ins: list, batch_shape_of) -> Fx:
    """The rule of one canonical node on Fx operands (None for constant inputs)."""
    op = node.op_type
    if op == "Quant":
        p = check_quant(model, node)
        if int(p["bit_width"]) > 24:
            raise NotExact(node, "activation quantizer wider than 24 bits",
                           f"{int(p['bit_width'])} bits: qonnx computes Quant in float32, exact to 24 bits only")
        lo, hi = quant_bounds(p)
        x = ins[0]
        out = x.map(lambda m: requantize(m, x.frac - p["frac"], p["rounding_mode"], lo, hi))
        return Fx(out.lo, out.hi, p["frac"]) if out.lo is not out.hi else Fx.exact(out.lo, p["frac"])
    if op == "MatMul":
        w = const(model, node.input[1])
        if w is None or ins[0] is None:
            raise NotExact(node, "MatMul operands", "needs a computed left operand and a constant right operand")
        wm, wf = const_mantissa(w, node, f"weight {node.input[1]}")
        x = ins[0]
        if x.lo is x.hi:
            return Fx.exact(_int_matmul(x.lo, wm), x.frac + wf)
        pos, neg = np.maximum(wm, 0), np.minimum(wm, 0)
        return Fx(x.lo @ pos + x.hi @ neg, x.hi @ pos + x.lo @ neg, x.frac + wf)
    if op == "Add":
        a, b = (_operand(model, node, i, ins[i]) for i in range(2))
        f = max(a.frac, b.frac)
        a, b = a.shifted_to(f), b.shifted_to(f)
        if a.lo is a.hi and b.lo is b.hi:
            return Fx.exact(a.lo + b.lo, f)
        return Fx(a.lo + b.lo, a.hi + b.hi, f)
    if op == "Relu":
        return ins[0].map(lambda m: np.maximum(m, 0))
    if op in ("ReduceSum", "ReduceMean", "ReduceMax"):
        x = ins[0]
        axes = _reduce_axes(model, node, x.lo.ndim)
        keep = bool(attr(node, "keepdims", 1))
        fn = np.max if op == "ReduceMax" else np.sum
        out = x.map(lambda m: fn(m, axis=tuple(axes), keepdims=keep))
        if op == "ReduceMean":
            count = int(np.prod([x.lo.shape[a] for a in axes]))
            k = log2_exact(count)
            if k is None:
                raise NotExact(node, "mean over a non power-of-two count",
                               f"mean over {count} elements is a division by {count}; use sum pooling or pad to 2**k")
            out = Fx(out.lo, out.hi, out.frac + k) if out.lo is not out.hi else Fx.exact(out.lo, out.frac + k)
        return out
    if op == "Mul":
        x, c = (ins[0], node.input[1]) if ins[0] is not None else (ins[1], node.input[0])
        cv = const(model, c)
        if cv is None or np.unique(cv).size != 1:
            raise NotExact(node, "Mul operands", "only a multiplication by one constant scalar is supported")
        k = log2_exact(abs(float(np.unique(cv)[0])))
        if k is None or float(np.unique(cv)[0]) < 0:
            raise NotExact(node, "non power-of-two scale", f"multiplier {float(np.unique(cv)[0]):.9g} is not 2**k")
        return Fx(x.lo, x.hi, x.frac - k) if x.lo is not x.hi else Fx.exact(x.lo, x.frac - k)
    if op in ("Reshape", "Flatten"):
        out_shape = batch_shape_of(node.output[0])
        return ins[0].map(lambda m: m.reshape((m.shape[0],) + tuple(out_shape[1:])))
    if op == "Transpose":
        perm = list(attr(node, "perm"))
        if perm[0] != 0:
            raise NotExact(node, "transpose of the batch axis", f"perm {perm} moves the batch axis")
        return ins[0].map(lambda m: np.transpose(m, perm))
    if op == "Gather":
        x = ins[0]
        if x is None or const(model, node.input[1]) is None:
            raise NotExact(node, "Gather operands", "needs a computed tensor and constant indices")
        axis = _data_axis(node, x.lo.ndim)
        size = x.lo.shape[axis]
        idx = gather_indices(model, node, size)
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            raise NotExact(node, "Gather indices", f"indices must lie in [-{size}, {size}) on axis {axis}")
        return x.map(lambda m: np.take(m, idx, axis=axis))
    if op == "Concat":
        parts = [_operand(model, node, i, v) for i, v in enumerate(ins)]
        axis = _data_axis(node, parts[0].lo.ndim)
        f = max(p.frac for p in parts)
        parts = [p.shifted_to(f) for p in parts]
        if all(p.lo is p.hi for p in parts):
            return Fx.exact(np.concatenate([p.lo for p in parts], axis=axis), f)
        return Fx(np.concatenate([p.lo for p in parts], axis=axis), np.concatenate([p.hi for p in parts], axis=axis), f)
    raise NotExact(node, "unsupported op", f"{op} is not in the canonical op set ({', '.join(SUPPORTED_OPS)})")


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


def walk(model: ModelWrapper, float_inputs: dict[str, np.ndarray | None], float_mantissas: bool = False) -> dict[str, Fx]:
    """Apply the rules node by node (graph order is topological after cleanup).

    float_inputs maps each graph input to its float data (emulation) or None (bounds: the input
    quantizer's full range). A graph input must go straight into a Quant (the firmware input type).
    float_mantissas carries emulated mantissas as float64 (exact integers; see emulator).
    """
    env: dict[str, Fx] = {}
    shapes = {}

    def batch_shape_of(name):
        if name not in shapes:
            shapes[name] = model.get_tensor_shape(name)
        return shapes[name]

    for node in model.graph.node:
        if node.input[0] in float_inputs:
            if node.op_type != "Quant":
                raise NotExact(node, "float tensor in the datapath",
                               f"graph input {node.input[0]} reaches {node.op_type} without a Quant")
            p = check_quant(model, node)
            data = float_inputs[node.input[0]]
            if data is None:
                lo, hi = quant_bounds(p)
                shape = [1] + list(batch_shape_of(node.input[0])[1:])
                env[node.output[0]] = Fx(np.full(shape, lo, np.int64), np.full(shape, hi, np.int64), p["frac"])
            else:
                m = quant_float_input(data, p)
                env[node.output[0]] = Fx.exact(m.astype(np.float64) if float_mantissas else m, p["frac"])
            continue
        ins = [env.get(i) if i else None for i in node.input]
        if all(v is None for v in ins):
            raise NotExact(node, "float tensor in the datapath",
                           f"no input of {node.name} has a fixed-point type (constant subgraph or float input)")
        out = apply_node(model, node, ins, batch_shape_of)
        if out.lo is not out.hi:  # bounds walk: proves int64 never overflows, so emulation needn't check
            if max(abs(int(out.lo.min())), abs(int(out.hi.max()))) >= 1 << MAX_MANTISSA_BITS:
                raise NotExact(node, "accumulator overflow", f"values need more than {MAX_MANTISSA_BITS} bits")
        env[node.output[0]] = out
    return env
