"""Graph-editing helpers the passes share: put nodes in place of others, bypass a no-op node,
make Reduce and Reshape nodes in the form the model's opset wants, re-infer shapes."""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes

from .model import consumers, producer


def replace_node(model: ModelWrapper, old, new_nodes: list) -> None:
    """Put new_nodes where old was (graph order stays topological); they carry old's record of
    where it came from in the user's model (ir.model.mark_source) unless they have their own."""
    for n in new_nodes:
        if not n.doc_string:
            n.doc_string = old.doc_string
    idx = list(model.graph.node).index(old)
    model.graph.node.remove(old)
    for i, n in enumerate(new_nodes):
        model.graph.node.insert(idx + i, n)


def bypass_node(model: ModelWrapper, node) -> bool:
    """Remove a single-input node whose output equals its input. Its consumers read the input
    instead; if its output is a graph output, the input's producer writes that name (False, and
    nothing changed, when another node also reads the input)."""
    src, out = node.input[0], node.output[0]
    if out in {o.name for o in model.graph.output}:
        prev = producer(model, src)
        if prev is None or len(consumers(model, src)) != 1:
            return False
        prev.output[list(prev.output).index(src)] = out
    else:
        for n in model.graph.node:
            n.input[:] = [src if i == out else i for i in n.input]
    replace_node(model, node, [])
    return True


def make_reduce(model: ModelWrapper, op: str, name: str, inp: str, out: str, axes, keepdims: int):
    """A Reduce node with axes as an input (opset >= 18) or attribute, whichever the model uses."""
    opset = max((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    axes_input_ops = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18}
    if opset >= axes_input_ops[op]:
        axes_name = model.make_new_valueinfo_name()
        model.set_initializer(axes_name, np.asarray(axes, dtype=np.int64))
        return helper.make_node(op, [inp, axes_name], [out], name=name, keepdims=keepdims)
    return helper.make_node(op, [inp], [out], name=name, axes=list(axes), keepdims=keepdims)


def make_reshape(model: ModelWrapper, name: str, inp: str, out: str, shape) -> object:
    """A Reshape to `shape` with the batch axis as -1."""
    target = model.make_new_valueinfo_name()
    model.set_initializer(target, np.asarray([-1] + list(shape[1:]), dtype=np.int64))
    return helper.make_node("Reshape", [inp, target], [out], name=name)


def reinfer_shapes(model: ModelWrapper) -> ModelWrapper:
    """Shapes inferred afresh after an edit (stale value_info dropped first)."""
    del model.graph.value_info[:]
    return model.transform(InferShapes())
