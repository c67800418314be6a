"""The interpreter of the canonical IR: the op registry's rules applied node by node, on data
(the emulator) or on the input quantizer's full range (exact type inference, verify)."""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from .integer import MAX_MANTISSA_BITS, Fx, NotExact, check_quant, quant_float_input, quant_input_range
from .ops import apply_node


def walk(model: ModelWrapper, float_inputs: dict[str, np.ndarray | None], float_mantissas: bool = False) -> dict[str, Fx]:
    """Apply the rules node by node (graph order is topological after cleanup).

    float_inputs maps each graph input to its float data (emulation) or None (bounds: the input
    quantizer's full range). A graph input must go straight into a Quant (the firmware input type).
    float_mantissas carries emulated mantissas as float64 (exact integers; see emulator).
    """
    env: dict[str, Fx] = {}
    shapes = {}

    def shape_of(name):
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
                lo, hi = quant_input_range(p, [1] + list(shape_of(node.input[0])[1:]), node)
                # Bounds in Python integers: a shift or a sum past 64 bits is then caught below, not wrapped.
                env[node.output[0]] = Fx(lo.astype(object), hi.astype(object), p["frac"])
            else:
                m = quant_float_input(data, p, node)
                env[node.output[0]] = Fx.exact(m.astype(np.float64) if float_mantissas else m, p["frac"])
            continue
        ins = [env.get(i) if i else None for i in node.input]
        if all(v is None for v in ins):
            raise NotExact(node, "float tensor in the datapath",
                           f"no input of {node.name} has a fixed-point type (constant subgraph or float input)")
        out = apply_node(model, node, ins, shape_of)
        if not out.is_exact:  # bounds walk: proves int64 never overflows, so emulation needn't check
            if out.lo.dtype != object or out.hi.dtype != object:
                raise TypeError(f"the {node.op_type} rule turned Python-integer bounds into fixed-width ones")
            if max(abs(int(out.lo.min())), abs(int(out.hi.max()))) >= 1 << MAX_MANTISSA_BITS:
                raise NotExact(node, "accumulator overflow", f"values need more than {MAX_MANTISSA_BITS} bits")
        env[node.output[0]] = out
    return env
