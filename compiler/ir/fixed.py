"""Fixed-point types and exact integer rounding (the arithmetic every backend must reproduce).

A value of FixedType(signed, width, frac) is an integer mantissa m with value m * 2**-frac and
m in [-2**(width-1), 2**(width-1) - 1] (signed) or [0, 2**width - 1] (unsigned).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from ..errors import L1ForgeError

# ap_[u]fixed<W, I[, rounding[, saturation[, saturation bits]]]>, with or without the ap_ prefix.
_FIXED_TEXT = re.compile(r"(?:ap_)?(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*)?(?:,\s*(\w+)\s*)?"
                         r"(?:,\s*\d+\s*)?>")

# The rounding vocabulary shared by every frontend and backend. qonnx's Quant modes (as
# qonnx.custom_op.general.intquant reads them) and the ap_fixed modes computing the same thing:
# ROUND is half to even (AP_RND_CONV), HALF_UP ties away from zero (AP_RND_INF), FLOOR truncates
# (AP_TRN), DOWN truncates toward zero (AP_TRN_ZERO), HALF_DOWN ties toward zero (AP_RND_ZERO);
# CEIL and UP (away from zero) have no ap_fixed mode. Other names of the same modes are renamed
# by canonicalize: HALF_EVEN (qonnx) is ROUND, ROUND_TO_ZERO (Brevitas, unknown to qonnx) is DOWN.
QONNX_TO_AP_ROUNDING = {"ROUND": "AP_RND_CONV", "FLOOR": "AP_TRN", "HALF_UP": "AP_RND_INF", "DOWN": "AP_TRN_ZERO",
                        "HALF_DOWN": "AP_RND_ZERO"}
QONNX_ROUNDING = ("ROUND", "FLOOR", "CEIL", "UP", "DOWN", "HALF_UP", "HALF_DOWN")
ROUNDING_ALIASES = {"HALF_EVEN": "ROUND", "ROUND_TO_ZERO": "DOWN"}
# ap_fixed modes read by frontends. AP_RND (ties toward +inf) has no qonnx mode: it becomes
# HALF_UP, which differs only for a negative value exactly halfway between two grid points.
AP_TO_QONNX_ROUNDING = {"AP_RND": "HALF_UP", **{ap: q for q, ap in QONNX_TO_AP_ROUNDING.items()}}
AP_SATURATION = ("AP_SAT", "AP_SAT_SYM", "AP_WRAP")


@dataclass(frozen=True)
class FixedType:
    signed: bool
    width: int  # total bits, sign included
    frac: int  # fractional bits (may be negative or exceed width)

    @property
    def integer(self) -> int:
        """Integer bits including the sign bit (hls4ml's I in ap_fixed<W, I>)."""
        return self.width - self.frac

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def kif(self) -> tuple[int, int, int]:
        """da4ml's (sign bit, integer bits without the sign, fraction bits)."""
        return int(self.signed), self.integer - int(self.signed), self.frac

    def hls(self, rounding: str = "AP_TRN", saturation: str = "AP_WRAP") -> str:
        """The ap_[u]fixed type string, e.g. ap_fixed<12,4,AP_RND_CONV,AP_SAT>."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        if rounding == "AP_TRN" and saturation == "AP_WRAP":
            return f"{base}<{self.width},{self.integer}>"
        return f"{base}<{self.width},{self.integer},{rounding},{saturation}>"

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}fix<{self.width},{self.integer}>"

    @classmethod
    def parse(cls, text: str) -> "FixedType":
        """The type of an hls4ml precision string: 'ap_fixed<12,4,AP_RND,AP_SAT>', 'fixed<16,6>',
        'ufixed<8,0,RND_CONV,SAT>' (rounding and saturation are ignored)."""
        m = _FIXED_TEXT.search(text)
        if m is None:
            raise ValueError(f"not a fixed-point type: {text!r}")
        return _type_of(m)

    @classmethod
    def covering(cls, lo_int: int, hi_int: int, frac: int) -> "FixedType":
        """The narrowest type at `frac` holding every mantissa in [lo_int, hi_int]."""
        signed = lo_int < 0
        if signed:
            width = max(_bits_signed(lo_int), _bits_signed(hi_int))
        else:
            width = max(1, int(hi_int).bit_length())
        return cls(signed, width, frac)


def _type_of(m: re.Match) -> FixedType:
    width, integer = int(m.group(2)), int(m.group(3))
    return FixedType(m.group(1) != "u", width, width - integer)


@dataclass(frozen=True)
class FixedSpec:
    """An ap_[u]fixed<W,I,rounding,saturation> type: a FixedType plus what a cast to it does."""
    type: FixedType
    rounding: str = "AP_TRN"
    saturation: str = "AP_WRAP"

    @classmethod
    def parse(cls, spec, default: "FixedSpec | None" = None) -> "FixedSpec":
        """From a FixedSpec, a (width, integer) pair (default's signedness and modes) or a string
        like 'ap_fixed<12,4,AP_RND,AP_SAT>' / 'fixed<16,6>' / 'ufixed<8,0,RND_CONV,SAT>' (modes
        default to AP_TRN, AP_WRAP). L1ForgeError naming the text if it is none of these."""
        if isinstance(spec, FixedSpec):
            return spec
        if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(isinstance(v, (int, np.integer)) for v in spec) \
                and default is not None:
            width, integer = int(spec[0]), int(spec[1])
            return replace(default, type=FixedType(default.type.signed, width, width - integer))
        m = _FIXED_TEXT.fullmatch(str(spec).strip())
        if m is None:
            raise L1ForgeError(f"fixed-point type {spec!r} is not understood; write e.g. "
                               "'ap_fixed<12,4,AP_RND,AP_SAT>' or (width, integer)")
        rounding, saturation = _ap_mode(m.group(4) or "AP_TRN"), _ap_mode(m.group(5) or "AP_WRAP")
        if rounding not in AP_TO_QONNX_ROUNDING or saturation not in AP_SATURATION or int(m.group(2)) < 1:
            raise L1ForgeError(f"fixed-point type {spec!r}: rounding must be one of {', '.join(AP_TO_QONNX_ROUNDING)} "
                               f"and saturation one of {', '.join(AP_SATURATION)}")
        return cls(_type_of(m), rounding, saturation)

    @property
    def qonnx_rounding(self) -> str:
        return AP_TO_QONNX_ROUNDING[self.rounding]

    @property
    def narrow(self) -> bool:
        """A symmetric saturation of a signed type: qonnx's narrow range."""
        return self.saturation == "AP_SAT_SYM" and self.type.signed

    def __str__(self) -> str:
        t = self.type
        return f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},{self.rounding},{self.saturation}>"


def _ap_mode(word: str) -> str:
    word = word.upper()
    return word if word.startswith("AP_") else "AP_" + word


def _bits_signed(v: int) -> int:
    v = int(v)
    return (v.bit_length() if v >= 0 else (-v - 1).bit_length()) + 1


def log2_exact(scale: float) -> int | None:
    """k with scale == 2**k exactly, or None if scale is not a power of two."""
    if not np.isfinite(scale) or scale <= 0:
        return None
    m, e = math.frexp(float(scale))
    return e - 1 if m == 0.5 else None


def shift_round(m: np.ndarray, shift: int, mode: str) -> np.ndarray:
    """Integer m * 2**-shift rounded to an integer: ROUND (half to even, numpy's round), FLOOR,
    CEIL, UP (away from zero), DOWN (toward zero), HALF_UP (ties away from zero) or HALF_DOWN
    (ties toward zero), as qonnx's Quant reads these names
    (qonnx.custom_op.general.intquant.resolve_rounding_mode)."""
    m = _integers(m)
    if shift <= 0:
        return m << (-shift)
    floor = m >> shift
    return _round_quotient(m, floor, m - (floor << shift), 1 << shift, mode)


def divide_round(m: np.ndarray, divisor: int, mode: str) -> np.ndarray:
    """Integer m / divisor (an integer >= 1) rounded to an integer in a qonnx rounding mode, exactly
    (the meaning of a mean over a count that is not a power of two, quantized)."""
    m = _integers(m)
    floor = m // divisor
    return _round_quotient(m, floor, m - floor * divisor, divisor, mode)


def _integers(m) -> np.ndarray:
    m = np.asarray(m)
    return m if m.dtype == object else m.astype(np.int64)  # object arrays of Python ints: any width


def _round_quotient(m, floor, rem, divisor: int, mode: str):
    """m / divisor rounded, from its floor quotient and remainder rem in [0, divisor)."""
    if mode == "FLOOR":
        return floor
    if mode == "CEIL":
        return floor + (rem > 0)
    if mode == "DOWN":
        return np.where(m < 0, floor + (rem > 0), floor)
    if mode == "UP":
        return np.where(m < 0, floor, floor + (rem > 0))
    twice = 2 * rem
    if mode == "HALF_UP":  # a tie goes up for m >= 0 and down (away from zero) for m < 0
        return floor + np.where(m < 0, twice > divisor, twice >= divisor)
    if mode == "HALF_DOWN":  # a tie goes down for m >= 0 and up (toward zero) for m < 0
        return floor + np.where(m < 0, twice >= divisor, twice > divisor)
    if mode == "ROUND":
        return floor + ((twice > divisor) | ((twice == divisor) & (floor % 2 == 1)))
    raise ValueError(f"unknown rounding mode {mode}")


def division_operands(shift: int, divisor: int) -> tuple[int, int]:
    """(up, den) with m * 2**-shift / divisor == (m << up) / den for integer m: the integer
    numerator's left shift and the denominator of a rescaled division."""
    return max(0, -shift), divisor << max(0, shift)


@dataclass(frozen=True)
class ConstantDivision:
    """floor(a / divisor) for every integer a in [lo, hi], as firmware computes it: a constant
    offset makes the numerator non-negative, x = a + offset * divisor, and
    floor(a / divisor) = floor(x * recip / 2**shift) - offset (one constant product, a shift)."""
    divisor: int
    lo: int
    hi: int
    offset: int
    recip: int
    shift: int

    @classmethod
    def over(cls, divisor: int, lo: int, hi: int) -> "ConstantDivision":
        offset = -(min(lo, 0) // divisor)  # ceil(-lo / divisor) for lo < 0
        recip, shift = reciprocal(divisor, hi + offset * divisor)
        return cls(divisor, lo, hi, offset, recip, shift)

    @property
    def top(self) -> int:
        """The largest non-negative numerator x."""
        return self.hi + self.offset * self.divisor

    def floor(self, a):
        """floor(a / divisor) by the firmware's formula (integers or object arrays of them)."""
        return (((a + self.offset * self.divisor) * self.recip) >> self.shift) - self.offset


def reciprocal(divisor: int, top: int) -> tuple[int, int]:
    """(R, s) with floor(x * R / 2**s) == floor(x / divisor) for every integer x in [0, top]: the
    division by a constant as one constant product and a shift, which firmware computes exactly.
    R = ceil(2**s / divisor) overshoots 1 / divisor by e / (divisor 2**s), e < divisor; for x <= top
    that adds less than x * divisor / (divisor 2**s) <= 1 / divisor to x / divisor, too little to reach
    the next integer when 2**s >= top * divisor."""
    if divisor < 1 or top < 0:
        raise ValueError(f"reciprocal of {divisor} over [0, {top}]")
    s = max(0, (max(top, 1) * divisor - 1).bit_length())
    return -(-(1 << s) // divisor), s
