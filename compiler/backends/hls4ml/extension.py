"""l1forge's own hls4ml layers, through hls4ml's extension API: a layer class, its config and
function-call templates, its header, registered with the Vivado and Vitis backends. hls4ml itself
is not modified. Each layer module (routing, tables, division) says what its layer holds and how
its config struct is written; the registration is this one function."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

_registered: set[str] = set()


@dataclass(frozen=True)
class LayerKind:
    """One l1forge hls4ml layer: its class name, header (which defines nnet::<function>), the
    attributes it holds (name -> 'int', 'bool', 'value' (any Python value) or 'type' (an
    ap_fixed precision: hls4ml adds the _t suffix)), and the writer of its config struct (given
    the hls4ml node)."""
    class_name: str
    header: Path
    function: str
    attributes: dict[str, str]
    config: Callable[[object], str]


_CALL = "nnet::{function}<{{input_t}}, {{output_t}}, {{config}}>({{input}}, {{output}});"


def register(kind: LayerKind) -> None:
    """Make the layer known to hls4ml and to its Vivado and Vitis backends (once per process)."""
    if kind.class_name in _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute, TypeAttribute
    from hls4ml.model.layers import Layer, register_layer

    made = {"int": lambda n: Attribute(n), "bool": lambda n: Attribute(n, value_type=bool),
            "value": lambda n: Attribute(n, value_type=None), "type": lambda n: TypeAttribute(n)}
    attributes = [made[t](name) for name, t in kind.attributes.items()] + [Attribute("out_shape", value_type=None)]

    def initialize(self):
        self.add_output_variable([int(d) for d in self.get_attr("out_shape")])

    layer = type(kind.class_name, (Layer,), {"_expected_attributes": attributes, "initialize": initialize})
    call = _CALL.format(function=kind.function)

    class ConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(layer)

        def format(self, node):
            return kind.config(node)

    class FunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(layer, include_header=[f"nnet_utils/{kind.header.name}"])

        def format(self, node):
            return call.format(**self._default_function_params(node))

    register_layer(kind.class_name, layer)
    for name in ("Vivado", "Vitis"):
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(ConfigTemplate)
        backend.register_template(FunctionTemplate)
        backend.register_source(kind.header)
    _registered.add(kind.class_name)
