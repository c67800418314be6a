"""Fixed-point types and exact integer rounding (the arithmetic every backend must reproduce).

A value of FixedType(signed, width, frac) is an integer mantissa m with value m * 2**-frac and
m in [-2**(width-1), 2**(width-1) - 1] (signed) or [0, 2**width - 1] (unsigned).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

_FIXED_TEXT = re.compile(r"(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)")


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
        width, integer = int(m.group(2)), int(m.group(3))
        return cls(m.group(1) != "u", width, width - integer)

    @classmethod
    def covering(cls, lo_int: int, hi_int: int, frac: int) -> "FixedType":
        """The narrowest type at `frac` holding every mantissa in [lo_int, hi_int]."""
        signed = lo_int < 0
        if signed:
            width = max(_bits_signed(lo_int), _bits_signed(hi_int))
        else:
            width = max(1, int(hi_int).bit_length())
        return cls(signed, width, frac)


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
    CEIL, DOWN (truncation toward zero) or HALF_UP (ties away from zero), as qonnx's Quant reads
    these names (qonnx.custom_op.general.intquant.resolve_rounding_mode)."""
    m = np.asarray(m, dtype=np.int64)
    if shift <= 0:
        return m << (-shift)
    floor = m >> shift
    rem = m - (floor << shift)  # in [0, 2**shift)
    half = 1 << (shift - 1)
    if mode == "FLOOR":
        return floor
    if mode == "CEIL":
        return floor + (rem > 0)
    if mode == "DOWN":
        return np.where(m < 0, floor + (rem > 0), floor)
    if mode == "HALF_UP":  # a tie goes up for m >= 0 and down (away from zero) for m < 0
        return floor + np.where(m < 0, rem > half, rem >= half)
    if mode == "ROUND":
        up = (rem > half) | ((rem == half) & (floor & 1 == 1))
        return floor + up
    raise ValueError(f"unknown rounding mode {mode}")
