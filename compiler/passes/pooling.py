"""lower_set_pooling: permutation-invariant pooling over the particle axis in one canonical form.

Matches what exporters produce for mean/sum/max over particles: ReduceMean/ReduceSum/ReduceMax
(axes as attribute or input, keepdims 0 or 1), GlobalAveragePool/GlobalMaxPool on channels-first
tensors, and the Transpose/Unsqueeze before and Squeeze/Flatten/Reshape after them.
Guarantees: every pooling is a single Reduce{Mean,Sum,Max} with constant `axes` on the tensor the
pooling really reads, keepdims=0, and no Transpose/Unsqueeze/Squeeze around it that the rewrite
could absorb; what is left is either canonical or named by verify.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes

from ..ir.model import attr, const, consumers, producer, reduce_axes

REDUCE = ("ReduceMean", "ReduceSum", "ReduceMax")
GLOBAL_POOL = {"GlobalAveragePool": "ReduceMean", "GlobalMaxPool": "ReduceMax"}


def _make_reduce(model, op, name, inp, out, axes, keepdims):
    """A Reduce node with axes as an input (opset >= 18) or attribute, whichever the model uses."""
    opset = max((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")), default=13)
    axes_input_ops = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18}
    if opset >= axes_input_ops[op]:
        axes_name = model.make_new_valueinfo_name()
        model.set_initializer(axes_name, np.asarray(axes, dtype=np.int64))
        return helper.make_node(op, [inp, axes_name], [out], name=name, keepdims=keepdims)
    return helper.make_node(op, [inp], [out], name=name, axes=list(axes), keepdims=keepdims)


def _replace(model, old, new_nodes):
    idx = list(model.graph.node).index(old)
    model.graph.node.remove(old)
    for i, n in enumerate(new_nodes):
        model.graph.node.insert(idx + i, n)


def _rank(model, name):
    return len(model.get_tensor_shape(name))


def _step(model: ModelWrapper) -> bool:
    for node in list(model.graph.node):
        if node.op_type in GLOBAL_POOL:
            rank = _rank(model, node.input[0])
            _replace(model, node, [_make_reduce(model, GLOBAL_POOL[node.op_type], node.name, node.input[0],
                                                node.output[0], list(range(2, rank)), 1)])
            return True
        if node.op_type not in REDUCE:
            continue
        rank = _rank(model, node.input[0])
        axes = reduce_axes(model, node, rank)
        if axes is None:
            continue
        keep = int(attr(node, "keepdims", 1))
        prev = producer(model, node.input[0])
        single_use = prev is not None and len(consumers(model, prev.output[0])) == 1
        # Reduce(keepdims=1) -> Squeeze/Flatten/Reshape that only drops the reduced unit axes.
        nxt = consumers(model, node.output[0])
        if keep == 1 and len(nxt) == 1 and nxt[0].op_type in ("Squeeze", "Flatten", "Reshape"):
            in_shape = model.get_tensor_shape(node.input[0])
            kept = [d for i, d in enumerate(in_shape) if i not in axes]
            if list(model.get_tensor_shape(nxt[0].output[0])) == kept and 0 not in axes:
                _replace(model, nxt[0], [])
                _replace(model, node, [_make_reduce(model, node.op_type, node.name, node.input[0],
                                                    nxt[0].output[0], axes, 0)])
                return True
        if keep == 0 and single_use and prev.op_type == "Unsqueeze":
            src_rank = _rank(model, prev.input[0])
            added = [i for i, d in enumerate(model.get_tensor_shape(prev.output[0]))
                     if i not in _unsqueeze_kept_positions(model, prev, src_rank)]
            if set(added) <= set(axes):
                kept_pos = _unsqueeze_kept_positions(model, prev, src_rank)
                new_axes = [kept_pos.index(a) for a in axes if a not in added]
                _replace(model, prev, [])
                _replace(model, node, [_make_reduce(model, node.op_type, node.name, prev.input[0],
                                                    node.output[0], new_axes, 0)])
                return True
        if keep == 0 and single_use and prev.op_type == "Transpose":
            perm = list(attr(prev, "perm"))
            new_axes = sorted(perm[a] for a in axes)
            remaining = [perm[i] for i in range(rank) if i not in axes]
            order = list(np.argsort(np.argsort(remaining)))  # residual layout of the kept axes
            mid = node.output[0] if order == sorted(order) else model.make_new_valueinfo_name()
            new = [_make_reduce(model, node.op_type, node.name, prev.input[0], mid, new_axes, 0)]
            if mid != node.output[0]:
                new.append(helper.make_node("Transpose", [mid], [node.output[0]], name=node.name + "_layout",
                                            perm=[int(i) for i in order]))
            _replace(model, prev, [])
            _replace(model, node, new)
            return True
    return False


def _unsqueeze_kept_positions(model, node, src_rank):
    """Positions in the Unsqueeze output of the source axes."""
    axes = attr(node, "axes")
    if axes is None:
        axes = const(model, node.input[1])
    out_rank = src_rank + len(np.asarray(axes).ravel())
    added = {int(a) % out_rank for a in np.asarray(axes).ravel()}
    return [i for i in range(out_rank) if i not in added]


def lower_set_pooling(model: ModelWrapper) -> ModelWrapper:
    """Rewrite pooling patterns until none matches (see the module docstring)."""
    changed = True
    while changed:
        changed = _step(model)
        if changed:
            del model.graph.value_info[:]
            model = model.transform(InferShapes())
    return model
