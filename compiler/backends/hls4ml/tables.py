"""An hls4ml layer for l1forge's Table op: a constant array of output values indexed by the
input's mantissa. hls4ml's own Sigmoid/Tanh tables are computed differently (their own range and
size), so the IR's table is emitted as is."""
from __future__ import annotations

from pathlib import Path

from .extension import LayerKind

_CONFIG = """struct config{index} {{
    static const unsigned n_in = {n_in};
    static const int in_min = {in_min};
    typedef {raw_t} raw_t;
    static {result_t} entry(int i) {{
        static const {result_t} table[{size}] = {{{values}}};
        return table[i];
    }}
}};
"""


def _config(node) -> str:
    values = node.get_attr("values")
    raw = f"ap_{'' if node.get_attr('in_signed') else 'u'}int<{node.get_attr('in_width')}>"
    return _CONFIG.format(index=node.index, n_in=node.get_attr("n_in"), in_min=node.get_attr("in_min"),
                          raw_t=raw, result_t=node.get_output_variable().type.name, size=len(values),
                          values=",".join(repr(float(v)) for v in values))


TABLE = LayerKind("L1ForgeTable", Path(__file__).with_name("l1forge_table.h"), "l1forge_table",
                  {"n_in": "int", "in_min": "int", "in_width": "int", "in_signed": "bool", "values": "value"}, _config)
