"""Layout passes for channels-first exports (e.g. Conv1d deep sets):

- Conv1x1ToMatMul: a 1D convolution with kernel 1 (a per-particle Dense on a channels-first
  tensor) becomes Transpose -> MatMul -> Add -> Transpose.
- SinkTransposes: Transposes move past elementwise ops (Relu, per-tensor Quant, scalar Mul/Add)
  and past Gathers with 1-D constant indices (a Gather on axis a of the transposed tensor is a
  Gather on axis perm[a] of the source), and adjacent ones compose; inverse pairs vanish (also
  when the second writes a graph output). What is left sits where the data layout really
  changes (before a pooling, which LowerSetPooling then absorbs; or a routing layer).
Both keep the graph's meaning exactly: they only move data, never recompute it. Each is a qonnx
Transformation doing one rewrite per application (ModelWrapper.transform repeats them).
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from ..ir.graph import reinfer_shapes, replace_node
from ..ir.model import attr, axis_attr, const, consumers, producer

ELEMENTWISE = ("Relu", "Quant", "Mul", "Add")


def _is_conv1x1(model, node) -> bool:
    if node.op_type != "Conv" or len(model.get_tensor_shape(node.input[0]) or []) != 3:
        return False
    w = const(model, node.input[1])
    bias_ok = len(node.input) < 3 or not node.input[2] or const(model, node.input[2]) is not None
    return (w is not None and w.ndim == 3 and w.shape[2] == 1 and bias_ok and attr(node, "group", 1) == 1
            and list(attr(node, "strides", [1])) == [1] and list(attr(node, "dilations", [1])) == [1]
            and not any(attr(node, "pads", [0, 0])))


class Conv1x1ToMatMul(Transformation):
    """A kernel-1 Conv on (batch, channels, particles) becomes a Dense on particles."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        node = next((n for n in model.graph.node if _is_conv1x1(model, n)), None)
        if node is None:
            return model, False
        _conv_as_matmul(model, node)
        return reinfer_shapes(model), True


def _conv_as_matmul(model: ModelWrapper, node) -> None:
    """Transpose -> MatMul (-> Add) -> Transpose in place of the Conv."""
    w = const(model, node.input[1])[:, :, 0]  # (out, in)
    names = [model.make_new_valueinfo_name() for _ in range(4)]
    t_in, mm, wt, biased = names
    model.set_initializer(wt, np.ascontiguousarray(w.T).astype(np.float32))
    new = [helper.make_node("Transpose", [node.input[0]], [t_in], name=node.name + "_to_cl", perm=[0, 2, 1]),
           helper.make_node("MatMul", [t_in, wt], [mm], name=node.name + "_matmul")]
    last = mm
    if len(node.input) > 2 and node.input[2]:
        new.append(helper.make_node("Add", [mm, node.input[2]], [biased], name=node.name + "_bias"))
        last = biased
    new.append(helper.make_node("Transpose", [last], [node.output[0]], name=node.name + "_to_cf", perm=[0, 2, 1]))
    replace_node(model, node, new)


def _elementwise_scalar(model, node) -> bool:
    if node.op_type == "Relu":
        return True
    if node.op_type == "Quant":
        return all(const(model, i) is not None and const(model, i).size == 1 for i in node.input[1:4])
    if node.op_type in ("Mul", "Add"):
        other = [const(model, i) for i in node.input[1:]]
        return all(o is not None and o.size == 1 for o in other)
    return False


def _gathers_1d(model, nodes, tensor) -> bool:
    return bool(nodes) and all(n.op_type == "Gather" and n.input[0] == tensor and const(model, n.input[1]) is not None
                               and const(model, n.input[1]).ndim == 1 for n in nodes)


def _sink_into_gathers(model, node, gathers) -> None:
    """x -> T(perm) -> Gather(axis a) -> y  becomes  x -> Gather(axis perm[a]) -> T(perm) -> y, per Gather."""
    perm = list(attr(node, "perm"))
    for g in gathers:
        a = axis_attr(g, len(perm))
        mid, y = model.make_new_valueinfo_name(), g.output[0]
        g.input[0], g.output[0] = node.input[0], mid
        del g.attribute[:]
        g.attribute.append(helper.make_attribute("axis", perm[a]))
        t = helper.make_node("Transpose", [mid], [y], name=g.name + "_layout", perm=perm)
        model.graph.node.insert(list(model.graph.node).index(g) + 1, t)
    model.graph.node.remove(node)


def _step(model: ModelWrapper) -> bool:
    for node in list(model.graph.node):
        if node.op_type != "Transpose":
            continue
        nxt = consumers(model, node.output[0])
        if _gathers_1d(model, nxt, node.output[0]) and node.output[0] not in [o.name for o in model.graph.output]:
            _sink_into_gathers(model, node, nxt)
            return True
        if len(nxt) != 1 or node.output[0] in [o.name for o in model.graph.output]:
            continue
        nxt = nxt[0]
        perm = list(attr(node, "perm"))
        if nxt.op_type == "Transpose":
            combined = [perm[p] for p in attr(nxt, "perm")]
            if combined == sorted(combined):  # inverse pair: both vanish
                if nxt.output[0] in [o.name for o in model.graph.output]:
                    prev = producer(model, node.input[0])  # it writes the graph output instead
                    if prev is None or len(consumers(model, node.input[0])) != 1:
                        continue
                    prev.output[list(prev.output).index(node.input[0])] = nxt.output[0]
                for n in model.graph.node:
                    n.input[:] = [node.input[0] if i == nxt.output[0] else i for i in n.input]
                model.graph.node.remove(nxt)
            else:
                nxt.input[0] = node.input[0]
                del nxt.attribute[:]
                nxt.attribute.append(helper.make_attribute("perm", combined))
            model.graph.node.remove(node)
            return True
        if nxt.op_type in ELEMENTWISE and nxt.input[0] == node.output[0] and _elementwise_scalar(model, nxt):
            # x -> T -> E -> y   becomes   x -> E -> T -> y
            mid = model.make_new_valueinfo_name()
            y = nxt.output[0]
            nxt.input[0], nxt.output[0] = node.input[0], mid
            node.input[0], node.output[0] = mid, y
            model.graph.node.remove(node)
            model.graph.node.insert(list(model.graph.node).index(nxt) + 1, node)
            return True
    return False


class SinkTransposes(Transformation):
    """One Transpose rule per application (see the module docstring)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = _step(model)
        return (reinfer_shapes(model) if changed else model), changed
