"""An hls4ml layer for l1forge's Table op: a constant array of output values indexed by the
input's mantissa. hls4ml's own Sigmoid/Tanh tables are computed differently (their own range and
size), so the IR's table is emitted as is. Registered through hls4ml's extension API (a new layer
class, its templates, its header); hls4ml itself is not modified."""
from __future__ import annotations

from pathlib import Path

LAYER_CLASS = "L1ForgeTable"
HEADER = Path(__file__).with_name("l1forge_table.h")
_registered = False

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
_CALL = "nnet::l1forge_table<{input_t}, {output_t}, {config}>({input}, {output});"


def register() -> None:
    """Make the layer known to hls4ml and to its Vivado and Vitis backends (once per process)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute
    from hls4ml.model.layers import Layer, register_layer

    class TableLayer(Layer):
        _expected_attributes = [Attribute("n_in"), Attribute("in_min"), Attribute("in_width"),
                                Attribute("in_signed", value_type=bool), Attribute("values", value_type=None),
                                Attribute("out_shape", value_type=None)]

        def initialize(self):
            self.add_output_variable([int(d) for d in self.get_attr("out_shape")])

    class TableConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(TableLayer)

        def format(self, node):
            values = node.get_attr("values")
            raw = f"ap_{'' if node.get_attr('in_signed') else 'u'}int<{node.get_attr('in_width')}>"
            return _CONFIG.format(index=node.index, n_in=node.get_attr("n_in"), in_min=node.get_attr("in_min"),
                                  raw_t=raw, result_t=node.get_output_variable().type.name, size=len(values),
                                  values=",".join(repr(float(v)) for v in values))

    class TableFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(TableLayer, include_header=[f"nnet_utils/{HEADER.name}"])

        def format(self, node):
            return _CALL.format(**self._default_function_params(node))

    register_layer(LAYER_CLASS, TableLayer)
    for name in ("Vivado", "Vitis"):
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(TableConfigTemplate)
        backend.register_template(TableFunctionTemplate)
        backend.register_source(HEADER)
    _registered = True
