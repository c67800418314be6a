"""ExactMeans: a mean over a count that is not a power of two becomes a sum, and its division
moves to the next quantizer, which becomes an l1forge DivQuant (Quant of its input / N).

A mean over N = 6 elements has no fixed-point value (1/6 is not a binary fraction), but a
quantizer after it has an exact integer meaning: the rounding of sum / N on its grid, ties as its
rounding mode says. Matches ReduceMean (count N not a power of two) -> c_1 -> ... -> c_k -> Quant,
each node in the chain the only consumer of the previous one and one of
- wires or positive-scale-commuting ops (Reshape, Flatten, Transpose, Gather, Relu, ReduceMax,
  ReduceSum): they commute with the division;
- MatMul with a constant right operand: linear, (s / N) W = (s W) / N;
- Add or Min with a constant operand: the constant is multiplied by N (still on its grid).
Rewrites ReduceMean -> ReduceSum, each such constant -> N times it, the Quant -> DivQuant(N); the
values every node computes are N times the old ones up to the DivQuant, which gives the Quant's
output exactly. A mean with no such chain stays and verify refuses it, naming the node.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from ..ir.custom_ops import make_div_quant_node
from ..ir.fixed import log2_exact
from ..ir.graph import make_reduce, reinfer_shapes, replace_node
from ..ir.model import attr, const, consumers, reduce_axes

COMMUTING = ("Reshape", "Flatten", "Transpose", "Gather", "Relu", "ReduceMax", "ReduceSum")
SCALED_CONSTANT = ("Add", "Min")


def _count(model: ModelWrapper, node) -> int | None:
    shape = model.get_tensor_shape(node.input[0])
    axes = reduce_axes(model, node, len(shape))
    return None if axes is None else int(np.prod([shape[a] for a in axes]))


def _chain_to_quant(model: ModelWrapper, mean) -> list | None:
    """The nodes after `mean` up to and including the Quant its division can move to, or None."""
    chain, tensor = [], mean.output[0]
    outputs = {o.name for o in model.graph.output}
    while tensor not in outputs:
        nxt = consumers(model, tensor)
        if len(nxt) != 1:
            return None
        node = nxt[0]
        chain.append(node)
        if node.op_type == "Quant":
            return chain
        if node.op_type in COMMUTING and node.input[0] == tensor:
            pass
        elif node.op_type == "MatMul" and node.input[0] == tensor and const(model, node.input[1]) is not None:
            pass
        elif node.op_type in SCALED_CONSTANT and len(node.input) == 2 and \
                const(model, node.input[1 - list(node.input).index(tensor)]) is not None:
            pass
        else:
            return None
        tensor = node.output[0]
    return None


class ExactMeans(Transformation):
    """Rewrite one quantized mean per application (see the module docstring)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for mean in list(model.graph.node):
            if mean.op_type != "ReduceMean":
                continue
            count = _count(model, mean)
            if count is None or log2_exact(count) is not None:
                continue
            chain = _chain_to_quant(model, mean)
            if chain is None:
                continue
            axes = reduce_axes(model, mean, len(model.get_tensor_shape(mean.input[0])))
            replace_node(model, mean, [make_reduce(model, "ReduceSum", mean.name, mean.input[0], mean.output[0], axes,
                                                   int(attr(mean, "keepdims", 1)))])
            for node in chain[:-1]:
                if node.op_type in SCALED_CONSTANT:
                    i = 0 if const(model, node.input[0]) is not None else 1
                    scaled = model.make_new_valueinfo_name()
                    model.set_initializer(scaled, (const(model, node.input[i]) * np.float32(count)).astype(np.float32))
                    node.input[i] = scaled
            quant = chain[-1]
            replace_node(model, quant, [make_div_quant_node(quant.name, quant, quant.input[0], count)])
            return reinfer_shapes(model), True
        return model, False

