"""LowerSetPooling: permutation-invariant pooling over the particle axis in one canonical form.

Matches what exporters produce for mean/sum/max over particles: ReduceMean/ReduceSum/ReduceMax
(axes as attribute or input, keepdims 0 or 1), GlobalAveragePool/GlobalMaxPool on channels-first
tensors, and the Transpose/Unsqueeze before and Squeeze/Flatten/Reshape after them.
Guarantees: every pooling is a single Reduce{Mean,Sum,Max} with constant `axes` on the tensor the
pooling really reads, keepdims=0, and no Transpose/Unsqueeze/Squeeze around it that the rewrite
could absorb; what is left is either canonical or named by verify.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from ..ir.graph import bypass_node, make_reduce, make_reshape, reinfer_shapes, replace_node
from ..ir.model import attr, consumers, producer, reduce_axes

REDUCE = ("ReduceMean", "ReduceSum", "ReduceMax")
GLOBAL_POOL = {"GlobalAveragePool": "ReduceMean", "GlobalMaxPool": "ReduceMax"}


def _rank(model, name):
    return len(model.get_tensor_shape(name))


def _unit_dims_inserted(src: list[int], dst: list[int]) -> list[int] | None:
    """Positions in dst of src's axes when dst is src with size-1 axes inserted, else None."""
    pos, j = [], 0
    for i, d in enumerate(dst):
        if j < len(src) and d == src[j]:
            pos.append(i)
            j += 1
        elif d != 1:
            return None
    return pos if j == len(src) else None


def _step(model: ModelWrapper) -> bool:
    for node in list(model.graph.node):
        op = node.op_type
        if op in GLOBAL_POOL:
            rank = _rank(model, node.input[0])
            replace_node(model, node, [make_reduce(model, GLOBAL_POOL[op], node.name, node.input[0], node.output[0],
                                                list(range(2, rank)), 1)])
            return True
        if op in ("Squeeze", "Unsqueeze", "Flatten"):  # they only reshape: one form for the rules below
            shape = model.get_tensor_shape(node.output[0])
            if shape is not None:
                replace_node(model, node, [make_reshape(model, node.name, node.input[0], node.output[0], shape)])
                return True
        if op == "Reshape":
            src, dst = model.get_tensor_shape(node.input[0]), model.get_tensor_shape(node.output[0])
            if src is not None and list(src) == list(dst) and bypass_node(model, node):
                return True
            prev = producer(model, node.input[0])
            if prev is not None and prev.op_type == "Reshape" and len(consumers(model, prev.output[0])) == 1:
                node.input[0] = prev.input[0]
                replace_node(model, prev, [])
                return True
        if op not in REDUCE:
            continue
        rank = _rank(model, node.input[0])
        axes = reduce_axes(model, node, rank)
        if axes is None:
            continue
        if int(attr(node, "keepdims", 1)) == 1:  # = Reduce(keepdims=0) + Reshape
            mid = model.make_new_valueinfo_name()
            replace_node(model, node, [make_reduce(model, op, node.name, node.input[0], mid, axes, 0),
                                   make_reshape(model, node.name + "_keepdims", mid, node.output[0],
                                               model.get_tensor_shape(node.output[0]))])
            return True
        prev = producer(model, node.input[0])
        if prev is None or len(consumers(model, prev.output[0])) != 1:
            continue
        if prev.op_type == "Reshape":  # Reduce after inserted unit axes: reduce the source instead
            pos = _unit_dims_inserted(list(model.get_tensor_shape(prev.input[0])),
                                      list(model.get_tensor_shape(prev.output[0])))
            if pos is not None and pos[0] == 0:
                new_axes = [pos.index(a) for a in axes if a in pos]
                mid = model.make_new_valueinfo_name()
                shape = model.get_tensor_shape(node.output[0])
                replace_node(model, prev, [])
                replace_node(model, node, [make_reduce(model, op, node.name, prev.input[0], mid, new_axes, 0),
                                       make_reshape(model, node.name + "_shape", mid, node.output[0], shape)])
                return True
        if prev.op_type == "Transpose":  # Reduce after a Transpose: reduce the source's axes
            perm = list(attr(prev, "perm"))
            new_axes = sorted(perm[a] for a in axes)
            remaining = [perm[i] for i in range(rank) if i not in axes]
            order = list(np.argsort(np.argsort(remaining)))  # residual layout of the kept axes
            mid = node.output[0] if order == sorted(order) else model.make_new_valueinfo_name()
            new = [make_reduce(model, op, node.name, prev.input[0], mid, new_axes, 0)]
            if mid != node.output[0]:
                new.append(helper.make_node("Transpose", [mid], [node.output[0]], name=node.name + "_layout",
                                            perm=[int(i) for i in order]))
            replace_node(model, prev, [])
            replace_node(model, node, new)
            return True
    return False


class LowerSetPooling(Transformation):
    """Rewrite one pooling pattern per application; ModelWrapper.transform repeats until none
    matches (see the module docstring)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = _step(model)
        return (reinfer_shapes(model) if changed else model), changed
