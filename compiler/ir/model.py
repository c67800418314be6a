"""Loading QONNX/ONNX models and small graph helpers shared by passes, analyses and backends."""
from __future__ import annotations

import ast
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
    from .untrusted import check_external_data, check_graph, check_sizes

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several types for truncated or foreign files
        raise L1ForgeError(f"{path}: not a readable ONNX model ({type(exc).__name__}); "
                           "give a QONNX/ONNX file exported from Brevitas or QKeras") from None
    if len(proto.graph.node) == 0 or len(proto.graph.input) == 0:
        raise L1ForgeError(f"{path}: not an ONNX model with a graph (no nodes or no inputs); "
                           "the file may be truncated or not ONNX")
    check_external_data(proto, path)
    check_sizes(proto, path)
    check_graph(proto, path)
    from onnx.external_data_helper import load_external_data_for_model

    load_external_data_for_model(proto, str(path.resolve().parent))
    return ModelWrapper(proto)


SOURCE_PREFIX = "l1forge-source-"
# Sub-modules a quantization library adds inside a user's layer (Brevitas' quantizer proxies):
# a module path is cut before them, so "phi.layers.1.act_quant.export_handler" is "phi.layers.1".
_LIBRARY_SCOPES = ("act_quant", "weight_quant", "bias_quant", "export_handler", "activation_impl", "input_quant",
                   "output_quant", "fused_activation_quant_proxy")


def mark_source(node) -> None:
    """Record in a node's doc string its name in the user's file and, where the exporter says, the
    user's module it belongs to (dynamo: metadata pkg.torch.onnx.name_scopes; TorchScript: names
    like /phi/layers.0/MatMul). Cleanup renames nodes; the record survives."""
    if node.doc_string or not node.name:
        return
    record = {"name": node.name}
    module = _user_module(node)
    if module:
        record["module"] = module
    node.doc_string = "\n".join(f"{SOURCE_PREFIX}{k}:{v}" for k, v in record.items())


def source_record(node) -> dict[str, str]:
    """What mark_source recorded: {"name": ..., "module": ...} (either may be missing)."""
    found = {}
    for line in node.doc_string.splitlines():
        if line.startswith(SOURCE_PREFIX):
            key, _, value = line[len(SOURCE_PREFIX):].partition(":")
            found[key] = value
    return found


def keeping_source_records(model: ModelWrapper, transform) -> ModelWrapper:
    """transform(model), where each new node computing a tensor the old graph computed takes the
    source record of the node that computed it (a Gemm's final Add after GemmToMatMul)."""
    records = {out: n.doc_string for n in model.graph.node if n.doc_string for out in n.output}
    result = transform(model)
    for node in result.graph.node:
        if not node.doc_string and node.output and node.output[0] in records:
            node.doc_string = records[node.output[0]]
    return result


def _user_module(node) -> str | None:
    meta = {p.key: p.value for p in node.metadata_props}
    if "pkg.torch.onnx.name_scopes" in meta:
        try:
            scopes = [s for s in ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])[:-1] if s]  # last: the op
        except (ValueError, SyntaxError):
            return None
    elif node.name.startswith("/"):
        parts = node.name.strip("/").split("/")[:-1]  # last: the op
        scopes = [".".join(parts[:i + 1]) for i in range(len(parts))]
    else:
        return None
    kept = None
    for scope in scopes:
        last = scope.rsplit(".", 1)[-1]
        if kept is not None and last in _LIBRARY_SCOPES:
            break
        kept = scope
    return kept


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


def axis_attr(node, rank: int, default: int = 0) -> int:
    """A node's `axis` attribute (Gather, Concat), non-negative for a tensor of this rank."""
    axis = int(attr(node, "axis", default))
    return axis + rank if axis < 0 else axis


def gather_indices(model: ModelWrapper, node, size: int) -> np.ndarray:
    """A Gather's constant indices with negative ones counted from the end of an axis of `size`."""
    idx = np.asarray(const(model, node.input[1]), dtype=np.int64)
    return np.where(idx < 0, idx + size, idx)


def reduce_axes(model: ModelWrapper, node, rank: int) -> list[int] | None:
    """Sorted non-negative axes of a Reduce node (attribute or constant input); None when the
    axes are a non-constant input; all axes when none are given."""
    axes = attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = const(model, node.input[1])
        if axes is None:
            return None
    if axes is None:
        return list(range(rank))
    return sorted(int(a) % rank for a in np.asarray(axes).ravel())


def quant_params(model: ModelWrapper, node) -> dict:
    """Scale, zero point, bit width, signed, narrow and rounding mode of a QONNX Quant node."""
    scale, zero, bits = (const(model, i) for i in node.input[1:4])
    mode = attr(node, "rounding_mode", b"ROUND")
    return {
        "scale": scale, "zero_point": zero, "bit_width": bits,
        "signed": bool(attr(node, "signed", 1)), "narrow": bool(attr(node, "narrow", 0)),
        "rounding_mode": mode.decode() if isinstance(mode, bytes) else str(mode),
    }


def copy_model(model: ModelWrapper) -> ModelWrapper:
    """An independent copy (passes never edit their argument)."""
    return ModelWrapper(onnx.ModelProto.FromString(model.model.SerializeToString()))


def with_batch_size(model: ModelWrapper, batch: int) -> ModelWrapper:
    """A copy whose graph inputs/outputs have leading dimension `batch` (shapes re-inferred)."""
    from qonnx.transformation.infer_shapes import InferShapes

    m = copy_model(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_value = batch
    del m.graph.value_info[:]
    return m.transform(InferShapes())


def as_float64(model: ModelWrapper) -> ModelWrapper:
    """A copy computing in float64: the same graph, exact for integers up to 53 bits where the
    float32 original rounds (accumulators wider than 24 bits). qonnx's Quant always returns
    float32 (exact, as activation quantizers are at most 24 bits wide, see verify), so each
    Quant output is cast to double before the standard ops read it."""
    from onnx import TensorProto, helper, numpy_helper

    m = copy_model(model)
    for init in m.graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name))
    for vi in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    for node in list(m.graph.node):
        if node.op_type == "Quant":
            out = node.output[0]
            node.output[0] = out + "_float32"
            shape = m.get_tensor_shape(out)
            m.graph.value_info.append(helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, shape))
            idx = list(m.graph.node).index(node)
            m.graph.node.insert(idx + 1, helper.make_node("Cast", [node.output[0]], [out], to=TensorProto.DOUBLE,
                                                          name=node.name + "_to_double"))
    return m


def upstream_model(model: ModelWrapper, tensor: str) -> ModelWrapper:
    """A copy whose output is `tensor`: only the nodes that tensor depends on are kept (to run a
    model up to an inner layer, e.g. to compare it layer by layer with another framework)."""
    m = copy_model(model)
    if tensor in [o.name for o in m.graph.output]:
        return m
    nodes = list(m.graph.node)
    producer_of = {out: i for i, n in enumerate(nodes) for out in n.output}
    if tensor not in producer_of:
        raise L1ForgeError(f"tensor {tensor!r} is not computed by any node of the model")
    keep, todo = set(), [tensor]
    while todo:
        i = producer_of.get(todo.pop())
        if i is not None and i not in keep:
            keep.add(i)
            todo.extend(nodes[i].input)
    for i in sorted(set(range(len(nodes))) - keep, reverse=True):
        del m.graph.node[i]
    shape = m.get_tensor_shape(tensor)
    del m.graph.output[:]
    m.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, shape))
    m.cleanup()
    return m
