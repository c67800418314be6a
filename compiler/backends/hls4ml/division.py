"""An hls4ml layer for l1forge's DivQuant op (a quantizer of its input divided by a constant
integer): every constant of the exact division (compiler.ir.fixed.ConstantDivision) in the
layer's config struct, the arithmetic in l1forge_divide.h."""
from __future__ import annotations

from pathlib import Path

from .extension import LayerKind

ROUNDING = {"FLOOR": 0, "CEIL": 1, "DOWN": 2, "HALF_UP": 3, "ROUND": 4, "UP": 5, "HALF_DOWN": 6}  # the header's enum

_CONFIG = """struct config{index} {{
    static const unsigned n_in = {n_in};
    static const unsigned up = {up};
    static const unsigned shift = {shift};
    static const int rounding = {rounding};
    static const long long out_min = {out_min}LL;
    static const long long out_max = {out_max}LL;
    typedef {raw_t} raw_t;
    typedef ap_int<{wide}> wide_t;
    typedef ap_uint<{prod}> prod_t;
    typedef {out_raw_t} out_raw_t;
    static wide_t divisor() {{ return wide_t("{divisor}", 10); }}
    static wide_t offset() {{ return wide_t("{offset}", 10); }}
    static prod_t offset_times_divisor() {{ return prod_t("{offset_times_divisor}", 10); }}
    static prod_t recip() {{ return prod_t("{recip}", 10); }}
}};
"""


def _int_type(signed: bool, width: int) -> str:
    return f"ap_{'' if signed else 'u'}int<{width}>"


def _config(node) -> str:
    g = node.get_attr
    return _CONFIG.format(index=node.index, n_in=g("n_in"), up=g("up"), shift=g("shift"), rounding=g("rounding"),
                          out_min=g("out_min"), out_max=g("out_max"), raw_t=_int_type(g("in_signed"), g("in_width")),
                          wide=g("wide_bits"), prod=g("prod_bits"), out_raw_t=_int_type(g("out_signed"), g("out_width")),
                          divisor=g("divisor"), offset=g("offset"), recip=g("recip"),
                          offset_times_divisor=g("offset") * g("divisor"))


DIVIDE = LayerKind("L1ForgeDivide", Path(__file__).with_name("l1forge_divide.h"), "l1forge_divide",
                   {"n_in": "int", "in_width": "int", "in_signed": "bool", "up": "int", "shift": "int",
                    "rounding": "int", "out_min": "int", "out_max": "int", "wide_bits": "int", "prod_bits": "int",
                    "out_width": "int", "out_signed": "bool", "divisor": "value", "offset": "value", "recip": "value"},
                   _config)
