"""Checks of a model file before anything trusts it: external data only from the model's own
folder (never a path outside it), no tensor larger than it declares or than the machine should
allocate, a graph without cycles, static input dimensions. Each failure is one L1ForgeError line
naming the file and the tensor or node."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from ..errors import L1ForgeError

# The largest initializer l1forge allocates: 2**28 elements (1 GiB of float32), far above any
# trigger network (the N=32 deep set holds about 10**4 weights).
MAX_ELEMENTS = 2**28


def external_location(tensor) -> str | None:
    if tensor.data_location != TensorProto.EXTERNAL:
        return None
    return {e.key: e.value for e in tensor.external_data}.get("location", "")


def _declared_elements(tensor) -> int:
    return int(np.prod([int(d) for d in tensor.dims], dtype=object)) if len(tensor.dims) else 1


def _itemsize(tensor) -> int | None:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        return None


def _held_bytes(tensor, folder: Path) -> int | None:
    """The bytes a tensor's data occupies (raw, typed fields or its external file); None when the
    tensor's type has no fixed item size."""
    location = external_location(tensor)
    if location is not None:
        info = {e.key: e.value for e in tensor.external_data}
        size = (folder / location).stat().st_size - int(info.get("offset", 0) or 0)
        return min(size, int(info["length"])) if info.get("length") else size
    if tensor.HasField("raw_data"):
        return len(tensor.raw_data)
    itemsize = _itemsize(tensor)
    for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
        values = getattr(tensor, field)
        if len(values):
            return len(values) * itemsize if itemsize else None
    return 0


def check_external_data(proto: onnx.ModelProto, path: Path) -> None:
    """Every external-data reference names an existing file inside the model's folder."""
    folder = path.resolve().parent
    for tensor in proto.graph.initializer:
        location = external_location(tensor)
        if location is None:
            continue
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder) or target == folder:
            raise L1ForgeError(f"{path}: initializer {tensor.name} stores its data at {location!r}, outside the "
                               "model's folder; l1forge reads external data only from beside the model")
        if not target.is_file():
            raise L1ForgeError(f"{path}: initializer {tensor.name} stores its data in {location!r}, which does "
                               "not exist")


def check_sizes(proto: onnx.ModelProto, path: Path) -> None:
    """No initializer declares more elements than MAX_ELEMENTS or than its data holds (checked
    before any tensor is read)."""
    folder = path.resolve().parent
    for tensor in proto.graph.initializer:
        elements = _declared_elements(tensor)
        dims = [int(d) for d in tensor.dims]
        if elements > MAX_ELEMENTS:
            raise L1ForgeError(f"{path}: initializer {tensor.name} declares {elements} elements (dims {dims}), more "
                               f"than l1forge allocates ({MAX_ELEMENTS})")
        itemsize, held = _itemsize(tensor), _held_bytes(tensor, folder)
        if itemsize and held is not None and held < elements * itemsize and tensor.data_type != TensorProto.BOOL:
            raise L1ForgeError(f"{path}: initializer {tensor.name} declares {elements} elements (dims {dims}) but "
                               f"holds {held} bytes; the file is damaged")


def check_graph(proto: onnx.ModelProto, path: Path) -> None:
    """Static input dimensions (the batch axis may be dynamic) and an acyclic graph whose every
    node input is produced."""
    graph = proto.graph
    inits = {t.name for t in graph.initializer}
    for value in graph.input:
        if value.name in inits:
            continue
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if axis == 0:
                continue
            if dim.HasField("dim_param") or not dim.HasField("dim_value"):
                raise L1ForgeError(f"{path}: input {value.name} has a dynamic dimension {dim.dim_param or '?'!r} "
                                   f"(axis {axis}); export with a fixed size (e.g. the particle count)")
            if dim.dim_value <= 0:
                raise L1ForgeError(f"{path}: input {value.name} has a dimension of size {dim.dim_value} (axis {axis})")
    available = {"", *inits, *(v.name for v in graph.input)}
    pending = list(graph.node)
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            break
        for node in ready:
            available.update(node.output)
        pending = [n for n in pending if n not in ready]
    if pending:
        producer = {o: n for n in pending for o in n.output}
        node, seen, cycle = pending[0], [], False
        while not cycle:  # follow unproduced inputs back until a node repeats: it is on a cycle
            seen.append(node)
            upstream = [producer[i] for i in node.input if i not in available and i in producer]
            if not upstream:
                break
            node = upstream[0]
            cycle = node in seen
        missing = [i for i in node.input if i not in available]
        if cycle:
            raise L1ForgeError(f"{path}: the graph has a cycle through node {node.name or node.op_type} "
                               f"({node.op_type}, reading {missing[0]})")
        raise L1ForgeError(f"{path}: node {node.name or node.op_type} ({node.op_type}) reads {missing[0]}, which no "
                           "node, input or initializer produces")
