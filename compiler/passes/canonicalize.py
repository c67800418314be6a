"""canonicalize: the ordered list of passes (qonnx Transformations, PASSES) that brings an exported
QONNX graph (dynamo or TorchScript exporter) to the canonical form of DESIGN.md: cleaned and shape-inferred, batch size 1, Gemm as MatMul + Add, weight and
bias quantizers folded into on-grid constants, functions of one quantized tensor as tables
(l1forge Table ops), kernel-1 convolutions as MatMuls with their
Transposes sunk and cancelled, set pooling lowered, one-hot (graph wiring) products lowered to
routing and adder trees, quantized means over counts that are not powers of two as sums and
DivQuants, every quantizer checked."""
from __future__ import annotations

import warnings

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.quant import quant
from qonnx.transformation.gemm_to_matmul import GemmToMatMul
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import RemoveUnusedTensors, SortCommutativeInputsInitializerLast
from qonnx.util.cleanup import cleanup_model

from ..ir.fixed import ROUNDING_ALIASES
from ..ir.integer import check_quant
from ..ir.model import attr, const, copy_model, keeping_source_records, mark_source, with_batch_size
from .division import ExactMeans
from .layout import Conv1x1ToMatMul, SinkTransposes
from .pooling import LowerSetPooling
from .tables import TabulateFunctions
from .wiring import LowerGraphWiring


class FoldConstantQuants(Transformation):
    """Each Quant of a constant (weights, biases) becomes its quantized values.

    Every Quant is checked first (power-of-two scale, zero point 0), so a non-exact weight
    quantizer is named here rather than hidden in folded floats. Quants of computed tensors stay.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in list(model.graph.node):
            if node.op_type != "Quant":
                continue
            p = check_quant(model, node)
            data = const(model, node.input[0])
            if data is None:
                continue
            values = quant(data, p["scale"], p["zero_point"], p["bit_width"], int(p["signed"]), int(p["narrow"]),
                           p["rounding_mode"])
            model.set_initializer(node.output[0], np.asarray(values, dtype=np.float32))
            model.graph.node.remove(node)
            changed = True
        return (model.transform(RemoveUnusedTensors()) if changed else model), changed


def name_rounding_mode(node) -> None:
    """A Quant's rounding mode under the one name the compiler reads (fixed.QONNX_ROUNDING):
    upper case (qonnx reads any case), HALF_EVEN as ROUND, Brevitas' ROUND_TO_ZERO (which
    qonnx's own execution does not know) as DOWN."""
    mode = attr(node, "rounding_mode")
    if mode is None:
        return
    text = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
    named = ROUNDING_ALIASES.get(text, text)
    for a in node.attribute:
        if a.name == "rounding_mode" and a.s != named.encode():
            a.s = named.encode()


class GemmBiasesExplicit(Transformation):
    """A Gemm without its optional C (a Linear layer without bias) gets C = 0: qonnx 1.0's
    GemmToMatMul indexes C unconditionally and fails on a two-input Gemm (pinned in the tests)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            if node.op_type == "Gemm" and len(node.input) == 2:
                shape = model.get_tensor_shape(node.output[0])
                name = model.make_new_valueinfo_name()
                model.set_initializer(name, np.zeros(shape[-1], dtype=np.float32))
                node.input.append(name)
                changed = True
        return model, changed


class BatchFreeReshapes(Transformation):
    """Reshape targets with the exported batch size baked in get -1 there, so the same graph
    runs on any batch (QONNX execution of thousands of inputs at once). Other Reshapes stay."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            if node.op_type != "Reshape":
                continue
            shape = const(model, node.input[1])
            if shape is not None and shape.size and shape[0] > 0:
                known = model.get_tensor_shape(node.output[0])
                if -1 in shape[1:] and known is not None:  # one -1 only: spell out the inferred size
                    shape = np.asarray(known, dtype=np.int64)
                shape = shape.copy()
                shape[0] = -1
                model.set_initializer(node.input[1], shape)
                changed = True
        return model, changed


# The canonical passes in order, after cleanup, Gemm -> MatMul + Add and batch size 1. Commutative
# ops get their constant operand second (qonnx's SortCommutativeInputsInitializerLast: bias + x ->
# x + bias, as the TorchScript exporter writes Linear layers).
PASSES = (FoldConstantQuants, TabulateFunctions, SortCommutativeInputsInitializerLast, BatchFreeReshapes, Conv1x1ToMatMul,
          SinkTransposes, LowerSetPooling, LowerGraphWiring, SinkTransposes, ExactMeans)


def canonicalize(model: ModelWrapper) -> ModelWrapper:
    """The canonical form of an exported model (see the module docstring); the argument is not
    changed. An on-chip noise source (compiler.ir.noise) stays in front of the canonical network."""
    from ..ir.noise import split_noise_source, with_noise_source

    noise, model = split_noise_source(model)
    if noise is not None:
        return with_noise_source(canonicalize(model), noise)
    model = copy_model(model)
    for node in model.graph.node:  # checked under the user's node names, before cleanup renames them
        mark_source(node)  # kept through renaming, for error messages and reports
        if node.op_type == "Quant":
            name_rounding_mode(node)
        if node.op_type == "Quant" and all(const(model, i) is not None for i in node.input[1:4]):
            check_quant(model, node)
    model = cleanup_model(model)
    with warnings.catch_warnings():  # it warns about the opset of the qonnx domain, not of Gemm
        warnings.filterwarnings("ignore", message="The GemmToMatMul transformation only offers")
        model = keeping_source_records(model, lambda m: m.transform(GemmBiasesExplicit()).transform(GemmToMatMul()))
    model = cleanup_model(model)
    if model.get_tensor_shape(model.graph.input[0].name)[0] != 1:
        model = with_batch_size(model, 1)
    for transformation in PASSES:
        model = model.transform(transformation())
    return cleanup_model(model)
