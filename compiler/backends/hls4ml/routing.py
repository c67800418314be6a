"""An hls4ml layer for routing: Gather, Transpose and one-hot aggregations (Gather + ReduceSum).

Each output element is one input element (a wire) or the sum of k input elements (an adder tree)
at flat positions given by a constant table, so the HLS has no multiplier and no index logic.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .extension import LayerKind

_CONFIG = """struct config{index} {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned n_sum = {n_sum};
    typedef {accum_t} accum_t;
    static unsigned source(unsigned i, unsigned j) {{
        static const unsigned table[{n_out}][{n_sum}] = {{{table}}};
        return table[i][j];
    }}
}};
"""


def _config(node) -> str:
    table = np.asarray(node.get_attr("table"))
    rows = ",".join("{" + ",".join(str(int(v)) for v in row) + "}" for row in table)
    return _CONFIG.format(index=node.index, n_in=node.get_attr("n_in"), n_out=table.shape[0],
                          n_sum=table.shape[1], table=rows, accum_t=node.get_attr("accum_t").name)


ROUTE = LayerKind("L1ForgeRoute", Path(__file__).with_name("l1forge_route.h"), "l1forge_route",
                  {"n_in": "int", "n_out": "int", "n_sum": "int", "table": "value", "accum": "type"}, _config)
