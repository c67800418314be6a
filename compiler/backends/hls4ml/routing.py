"""An hls4ml layer for routing: Gather, Transpose and one-hot aggregations (Gather + ReduceSum).

Each output element is one input element (a wire) or the sum of k input elements (an adder tree)
at flat positions given by a constant table, so the HLS has no multiplier and no index logic.
Registered through hls4ml's extension API (a new layer class, its templates, its header);
hls4ml itself is not modified.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

LAYER_CLASS = "L1ForgeRoute"
HEADER = Path(__file__).with_name("l1forge_route.h")
_registered = False

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
_CALL = "nnet::l1forge_route<{input_t}, {output_t}, {config}>({input}, {output});"


def register() -> None:
    """Make the layer known to hls4ml and to its Vivado and Vitis backends (once per process)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute, TypeAttribute
    from hls4ml.model.layers import Layer, register_layer

    class RouteLayer(Layer):
        _expected_attributes = [Attribute("n_in"), Attribute("n_out"), Attribute("n_sum"),
                                Attribute("table", value_type=None), Attribute("out_shape", value_type=None),
                                TypeAttribute("accum")]

        def initialize(self):
            self.add_output_variable([int(d) for d in self.get_attr("out_shape")])

    class RouteConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(RouteLayer)

        def format(self, node):
            table = np.asarray(node.get_attr("table"))
            rows = ",".join("{" + ",".join(str(int(v)) for v in row) + "}" for row in table)
            return _CONFIG.format(index=node.index, n_in=node.get_attr("n_in"), n_out=table.shape[0],
                                  n_sum=table.shape[1], table=rows, accum_t=node.get_attr("accum_t").name)

    class RouteFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(RouteLayer, include_header=[f"nnet_utils/{HEADER.name}"])

        def format(self, node):
            return _CALL.format(**self._default_function_params(node))

    register_layer(LAYER_CLASS, RouteLayer)
    for name in ("Vivado", "Vitis"):
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(RouteConfigTemplate)
        backend.register_template(RouteFunctionTemplate)
        backend.register_source(HEADER)
    _registered = True
