"""Loading QONNX/ONNX models and small graph helpers shared by passes, analyses and backends."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import L1ForgeError


def load_model(source: str | Path | onnx.ModelProto | ModelWrapper) -> ModelWrapper:
    """A ModelWrapper from a file, a ModelProto or a ModelWrapper; a clear error for bad files."""
    if isinstance(source, ModelWrapper):
        return source
    if isinstance(source, onnx.ModelProto):
        return ModelWrapper(source)
    path = Path(source)
    if not path.is_file():
        raise L1ForgeError(f"{path}: no such model file")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types for truncated or foreign files
        raise L1ForgeError(f"{path}: not a readable ONNX model ({type(exc).__name__}); "
                           "give a QONNX/ONNX file exported from Brevitas or QKeras") from None
    if len(proto.graph.node) == 0 or len(proto.graph.input) == 0:
        raise L1ForgeError(f"{path}: not an ONNX model with a graph (no nodes or no inputs); "
                           "the file may be truncated or not ONNX")
    return ModelWrapper(proto)


def const(model: ModelWrapper, name: str) -> np.ndarray | None:
    return model.get_initializer(name)


def producer(model: ModelWrapper, tensor: str):
    return model.find_producer(tensor)


def consumers(model: ModelWrapper, tensor: str) -> list:
    return list(model.find_consumers(tensor) or [])


def attr(node, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def quant_params(model: ModelWrapper, node) -> dict:
    """Scale, zero point, bit width, signed, narrow and rounding mode of a QONNX Quant node."""
    scale, zero, bits = (const(model, i) for i in node.input[1:4])
    mode = attr(node, "rounding_mode", b"ROUND")
    return {
        "scale": scale, "zero_point": zero, "bit_width": bits,
        "signed": bool(attr(node, "signed", 1)), "narrow": bool(attr(node, "narrow", 0)),
        "rounding_mode": mode.decode() if isinstance(mode, bytes) else str(mode),
    }


def with_batch_size(model: ModelWrapper, batch: int) -> ModelWrapper:
    """A copy whose graph inputs/outputs have leading dimension `batch` (shapes re-inferred)."""
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(onnx.ModelProto.FromString(model.model.SerializeToString()))
    for vi in list(m.graph.input) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_value = batch
    del m.graph.value_info[:]
    return m.transform(InferShapes())
