"""Integer arithmetic of the canonical IR: each tensor is an int64 mantissa array with a
fractional bit count (value = mantissa * 2**-frac), held as an Fx of element-wise bounds (type
inference) or of data (emulation, lo is hi). The primitives the op rules of compiler.ir.ops are
written in: constants on the grid, exact products, requantization, Quant parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import L1ForgeError
from .fixed import (QONNX_ROUNDING, FixedSpec, FixedType, QONNX_TO_AP_ROUNDING, divide_round, division_operands,
                    log2_exact, shift_round)
from .model import quant_params, source_record

MAX_MANTISSA_BITS = 62


class NotExact(L1ForgeError):
    """A node whose result cannot be represented exactly in fixed point."""

    def __init__(self, node, rule: str, detail: str):
        self.node, self.rule, self.detail = node_label(node), rule, detail
        super().__init__(f"node {self.node} ({node.op_type}): {rule}: {detail}")


def node_label(node) -> str:
    """The node's name, with the name it had in the user's file when cleanup renamed it."""
    src = source_record(node).get("name")
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
        if self.is_exact:
            return Fx.exact(_shift_left(self.lo, s), frac)
        return Fx(self.lo << s, self.hi << s, frac)

    @property
    def is_exact(self) -> bool:
        """Data (emulation) rather than bounds (type inference)."""
        return self.lo is self.hi

    def with_frac(self, frac: int) -> "Fx":
        """The same mantissas read at another fractional bit count (a multiplication by 2**k)."""
        return Fx.exact(self.lo, frac) if self.is_exact else Fx(self.lo, self.hi, frac)

    def map(self, fn) -> "Fx":
        lo = fn(self.lo)
        return Fx.exact(lo, self.frac) if self.is_exact else Fx(lo, fn(self.hi), self.frac)


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


def int_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b in a's representation (int64, or float64 holding integers). Through
    float64 BLAS when every partial sum stays below 2**53 (each is then an exactly representable
    integer, whatever the summation order), else in int64."""
    if a.size and b.size and float(np.abs(a).max()) * float(np.abs(b).sum(axis=0).max()) < 2.0**53:
        out = a.astype(np.float64, copy=False) @ b.astype(np.float64)
        return out if a.dtype == np.float64 else out.astype(np.int64)
    out = a.astype(np.int64) @ b
    return out.astype(np.float64) if a.dtype == np.float64 else out


_FLOAT_ROUND = {"ROUND": np.round, "FLOOR": np.floor, "CEIL": np.ceil, "DOWN": np.trunc,
                "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)),
                "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
                "HALF_DOWN": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5)}  # qonnx's meanings


def requantize(m: np.ndarray, shift: int, mode: str, lo: int, hi: int, divisor: int = 1) -> np.ndarray:
    """clip(round(m * 2**-shift / divisor)) for int64 mantissas, or for float64 ones holding
    integers below 2**53 (scaling by a power of two and rounding are then exact in float64; a
    division by another divisor is done in int64)."""
    if divisor != 1:
        ints = m.astype(np.int64) if m.dtype == np.float64 else m
        up, den = division_operands(shift, divisor)
        return np.clip(divide_round(ints << up, den, mode), lo, hi).astype(m.dtype)
    if m.dtype == np.float64:
        return np.clip(_FLOAT_ROUND[mode](m * 2.0**-shift), lo, hi)
    return np.clip(shift_round(m, shift, mode), lo, hi)


def quant_bounds(p: dict) -> tuple[int, int]:
    b = int(p["bit_width"])
    if p["signed"]:
        return -(1 << (b - 1)) + int(p["narrow"]), (1 << (b - 1)) - 1
    return 0, (1 << b) - 1 - int(p["narrow"])


def check_quant(model: ModelWrapper, node) -> dict:
    """Quant parameters, or NotExact if they break the canonical rules.

    The scale is one power of two (per tensor) or a constant array of powers of two (per channel,
    broadcast over the input). p["frac"] is the fraction bit count of the output's common grid
    (the finest of the channels'); p["channel_frac"] is None per tensor, else the array of each
    channel's own fraction bits, in the scale's shape."""
    p = quant_params(model, node)
    if p["scale"] is None or p["zero_point"] is None or p["bit_width"] is None:
        raise NotExact(node, "dynamic quantizer", "scale, zero point and bit width must be constants")
    scale = np.asarray(p["scale"], dtype=np.float64)
    if not np.all(np.isfinite(scale) & (scale > 0)):
        bad = scale.ravel()[~(np.isfinite(scale.ravel()) & (scale.ravel() > 0))][0]
        raise NotExact(node, "invalid scale", f"scale {bad:g} is not a positive finite number")
    exponents = {}
    for value in np.unique(scale):
        k = log2_exact(value)
        if k is None:
            raise NotExact(node, "non power-of-two scale",
                           f"scale {value:.9g} is not 2**k; use a fixed-point quantizer "
                           "(e.g. Brevitas Int8ActPerTensorFixedPoint)")
        exponents[value] = k
    if np.any(np.asarray(p["zero_point"]) != 0):
        raise NotExact(node, "non-zero zero point", "only symmetric (zero point 0) quantizers are exact")
    bits = np.asarray(p["bit_width"]).ravel()
    if bits.size != 1 or bits[0] != int(bits[0]) or not 1 <= bits[0] <= 32:
        raise NotExact(node, "bit width", f"bit width {bits} must be one integer in 1..32 (qonnx's Quant takes "
                                          "a scalar bit width; per-channel grids go in the scale)")
    if p["rounding_mode"] not in QONNX_ROUNDING:
        raise NotExact(node, "rounding mode", f"{p['rounding_mode']} is not supported")
    if len(exponents) == 1:
        p["frac"], p["channel_frac"] = -next(iter(exponents.values())), None
    else:
        p["channel_frac"] = np.vectorize(lambda v: -exponents[v], otypes=[np.int64])(scale)
        p["frac"] = int(p["channel_frac"].max())
    return p


def element_frac(node, p: dict, shape) -> np.ndarray | int:
    """The fraction bits of each element of a Quant's output of `shape` (batch axis first): the
    per-tensor int, or the per-channel array broadcast to the shape. NotExact if the scale does
    not broadcast or varies along the batch axis."""
    if p["channel_frac"] is None:
        return p["frac"]
    cf = p["channel_frac"]
    shape = tuple(shape)
    if cf.ndim == len(shape) and cf.shape[0] != 1:
        raise NotExact(node, "per-channel scale shape", f"scale of shape {cf.shape} varies along the batch axis")
    try:
        return np.broadcast_to(cf, shape)
    except ValueError:
        raise NotExact(node, "per-channel scale shape", f"scale of shape {cf.shape} does not broadcast to the "
                                                        f"input's {shape}") from None


def requantize_channels(m: np.ndarray, frac_in: int, p: dict, f_el: np.ndarray | int, lo: int, hi: int,
                        divisor: int = 1) -> np.ndarray:
    """A Quant on mantissas at frac_in (of values divided by `divisor` first: a DivQuant): each
    element rounded and saturated on its own grid (f_el fraction bits), returned on the common
    grid p["frac"] (exact: a left shift)."""
    mode = p["rounding_mode"]
    if np.ndim(f_el) == 0:
        return requantize(m, frac_in - int(f_el), mode, lo, hi, divisor)
    out = np.zeros_like(m)
    for f in np.unique(f_el):
        sel = f_el == f
        out[sel] = _shift_left(requantize(m[sel], frac_in - int(f), mode, lo, hi, divisor), p["frac"] - int(f))
    return out


def quant_type(p: dict) -> FixedType:
    """The grid and range of a checked Quant (check_quant's parameters): per channel, the common
    grid wide enough for every channel."""
    width = int(p["bit_width"])
    if p["channel_frac"] is not None:
        width += p["frac"] - int(p["channel_frac"].min())
    return FixedType(bool(p["signed"]), width, p["frac"])


def quant_spec(node, p: dict) -> FixedSpec:
    """The ap_fixed cast equal to a checked Quant: same grid, rounding and saturation (a narrow
    signed quantizer saturates symmetrically, AP_SAT_SYM). NotExact when there is none (CEIL, UP,
    narrow unsigned, a per-channel grid: one ap_fixed cast rounds every channel alike)."""
    rounding = QONNX_TO_AP_ROUNDING.get(p["rounding_mode"])
    if rounding is None or (p["narrow"] and not p["signed"]):
        raise NotExact(node, "quantizer not expressible as an ap_fixed cast",
                       f"rounding {p['rounding_mode']}, narrow={p['narrow']}, signed={p['signed']} "
                       "has no ap_fixed equivalent")
    if p["channel_frac"] is not None:
        grids = sorted({int(v) for v in np.ravel(p["channel_frac"])})
        raise NotExact(node, "per-channel quantizer not expressible as an ap_fixed cast",
                       f"channels on {len(grids)} grids ({', '.join(f'2**-{g}' for g in grids)}) need one cast "
                       "each; compile with --backend rtl")
    return FixedSpec(quant_type(p), rounding, "AP_SAT_SYM" if p["narrow"] else "AP_SAT")


def quant_float_input(x: np.ndarray, p: dict, node=None) -> np.ndarray:
    """Mantissas (on the common grid p["frac"]) of a Quant applied to float data (the firmware's
    input conversion)."""
    x = np.asarray(x, dtype=np.float64)
    f_el = element_frac(node, p, x.shape)
    r = _FLOAT_ROUND[p["rounding_mode"]](x * 2.0 ** f_el)  # exact: power-of-two scaling
    lo, hi = quant_bounds(p)
    return (np.clip(r, lo, hi) * 2.0 ** (p["frac"] - f_el)).astype(np.int64)


def quant_input_range(p: dict, shape, node=None) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise lowest and highest mantissas (common grid) of a Quant's output of `shape`
    (two new arrays)."""
    lo, hi = quant_bounds(p)
    step = 2 ** (p["frac"] - np.asarray(element_frac(node, p, shape), dtype=np.int64))
    return np.broadcast_to(lo * step, tuple(shape)).astype(np.int64), np.broadcast_to(hi * step, tuple(shape)).astype(np.int64)
