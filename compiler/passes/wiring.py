"""LowerGraphWiring: constant 0/1 matrix products that only move and add data (the pair
construction and edge aggregation of interaction networks) become routing and adder trees.

Matches a MatMul with one constant operand C and one computed operand x:
- C on the left:  C (M, K) @ x (B, ..., K, D) reads x along axis -2, one output row per row of C;
- C on the right: x (B, ..., D, K) @ C (K, M) reads x along axis -1, one output per column of C.
When each row (left) or column (right) of C holds only zeros and ones, with the same number k >= 1
of ones everywhere, the product is rewritten as
- k == 1: Gather(x, indices (M,), axis)                         pure routing, no arithmetic;
- k  > 1: Gather(x, indices (M, k), axis) -> ReduceSum(axis + 1)  routing plus a k-input adder tree.
Both compute the same numbers as the MatMul exactly (sums of selected values, no products).

GatherND with constant indices (..., 1) and batch_dims 0 (the dynamo exporter's x[:, idx], between
Transposes that put the indexed axis first) is a Gather on axis 0 and becomes one; SinkTransposes
then moves the Transposes through it and cancels them.

Any other constant matrix is left to be computed as the general operation it is: a constant on the
left becomes Transpose -> MatMul (constant on the right) -> Transpose, a matrix product; a
constant on the right already is one. Nothing is treated as wiring unless it is wiring.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from ..ir.graph import make_reduce, reinfer_shapes, replace_node
from ..ir.integer import NotExact
from ..ir.model import attr, const


def one_hot_selection(c: np.ndarray) -> np.ndarray | None:
    """For a 0/1 matrix (M, K) whose rows all hold the same number k >= 1 of ones: the (M, k)
    column indices of the ones, row by row. None for anything else."""
    if c.ndim != 2 or not np.all((c == 0) | (c == 1)):
        return None
    counts = c.sum(axis=1)
    if counts.size == 0 or counts.min() < 1 or counts.min() != counts.max():
        return None
    return np.nonzero(c)[1].reshape(c.shape[0], int(counts[0])).astype(np.int64)


def _routing(model, node, x: str, idx: np.ndarray, axis: int) -> list:
    """Gather (+ ReduceSum over the k selected values) equal to the one-hot product."""
    k = idx.shape[1]
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, idx[:, 0] if k == 1 else idx)
    if k == 1:
        return [helper.make_node("Gather", [x, name], [node.output[0]], name=node.name + "_route", axis=axis)]
    gathered = model.make_new_valueinfo_name()
    return [helper.make_node("Gather", [x, name], [gathered], name=node.name + "_route", axis=axis),
            make_reduce(model, "ReduceSum", node.name + "_sum", gathered, node.output[0], [axis + 1], 0)]


def _general_left_product(model, node, c: np.ndarray, x: str, rank: int) -> list:
    """C @ x as (x^T @ C^T)^T: the constant moves to the right, where it is a matrix product."""
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    xt, ct, yt = (model.make_new_valueinfo_name() for _ in range(3))
    model.set_initializer(ct, np.ascontiguousarray(c.T).astype(np.float32))
    return [helper.make_node("Transpose", [x], [xt], name=node.name + "_in", perm=perm),
            helper.make_node("MatMul", [xt, ct], [yt], name=node.name + "_matmul"),
            helper.make_node("Transpose", [yt], [node.output[0]], name=node.name + "_out", perm=perm)]


def _check_shapes(model: ModelWrapper, node, left, right) -> None:
    """A product whose inner dimensions differ is a broken graph, never wiring: refuse it."""
    a = left.shape if left is not None else model.get_tensor_shape(node.input[0])
    b = right.shape if right is not None else model.get_tensor_shape(node.input[1])
    if a is None or b is None or len(a) == 0 or len(b) == 0:
        return
    k_a, k_b = a[-1], (b[-2] if len(b) > 1 else b[0])
    if k_a != k_b:
        raise NotExact(node, "MatMul shape mismatch",
                       f"{node.input[0]} {list(a)} @ {node.input[1]} {list(b)}: "
                       f"inner dimensions {k_a} and {k_b} differ")


def _rewrite(model: ModelWrapper, node) -> list | None:
    left, right = const(model, node.input[0]), const(model, node.input[1])
    if (left is None) == (right is None):
        return None
    _check_shapes(model, node, left, right)
    if right is not None:
        x, rank = node.input[0], len(model.get_tensor_shape(node.input[0]))
        idx = one_hot_selection(right.T) if right.ndim == 2 else None
        return None if idx is None else _routing(model, node, x, idx, rank - 1)
    x, rank = node.input[1], len(model.get_tensor_shape(node.input[1]))
    if left.ndim != 2 or rank < 3:
        return None  # a constant product with the batch axis: left for verify to name
    idx = one_hot_selection(left)
    if idx is not None:
        return _routing(model, node, x, idx, rank - 2)
    return _general_left_product(model, node, left, x, rank)


def _gather_nd_as_gather(model: ModelWrapper, node) -> list | None:
    idx = const(model, node.input[1])
    if idx is None or idx.ndim < 1 or idx.shape[-1] != 1 or int(attr(node, "batch_dims", 0)) != 0:
        return None
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, idx[..., 0].astype(np.int64))
    return [helper.make_node("Gather", [node.input[0], name], [node.output[0]], name=node.name, axis=0)]


class LowerGraphWiring(Transformation):
    """Rewrite every matching MatMul and GatherND (see the module docstring)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in list(model.graph.node):
            if node.op_type in ("MatMul", "GatherND"):
                new = _rewrite(model, node) if node.op_type == "MatMul" else _gather_nd_as_gather(model, node)
                if new is not None:
                    replace_node(model, node, new)
                    changed = True
        return (reinfer_shapes(model) if changed else model), changed
