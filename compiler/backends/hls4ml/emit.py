"""Lower a canonical model into hls4ml layers with explicit, exact precisions."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ...errors import L1ForgeError
from ...ir.fixed import FixedType, log2_exact
from ...ir.integer import NotExact, check_quant, const_mantissa
from ...ir.model import attr, axis_attr, consumers, gather_indices, reduce_axes
from ...passes.fixed_point_types import infer_fixed_point_types
from ...quiet import silenced_stderr
from .routing import LAYER_CLASS as ROUTE, register as register_routing

ROUNDING = {"ROUND": "AP_RND_CONV", "FLOOR": "AP_TRN", "HALF_UP": "AP_RND_INF", "DOWN": "AP_TRN_ZERO",
            "CEIL": None}
# A default the layer list never relies on: check_types fails if any layer ends up with it.
SENTINEL_WIDTH, SENTINEL_INTEGER = 3, 2
SENTINEL_DEFAULT = f"ap_fixed<{SENTINEL_WIDTH},{SENTINEL_INTEGER}>"


@dataclass
class HlsLayer:
    """One hls4ml layer dict plus the precisions l1forge sets for it."""
    spec: dict
    precision: dict[str, str]
    sources: list[str] = field(default_factory=list)  # canonical nodes it implements


def _quant_type(p: dict) -> FixedType:
    b = int(p["bit_width"])
    return FixedType(bool(p["signed"]), b, p["frac"])


def _quant_precision(node, p: dict) -> str:
    """The ap_fixed cast equal to a Quant: same grid, rounding and saturation (narrow signed
    quantizers saturate symmetrically, AP_SAT_SYM)."""
    rnd = ROUNDING.get(p["rounding_mode"])
    if rnd is None or (p["narrow"] and not p["signed"]):
        raise NotExact(node, "quantizer not expressible as an ap_fixed cast",
                       f"rounding {p['rounding_mode']}, narrow={p['narrow']}, signed={p['signed']} "
                       "has no ap_fixed equivalent")
    return _quant_type(p).hls(rnd, "AP_SAT_SYM" if p["narrow"] else "AP_SAT")


def _const_type(values, node, what) -> FixedType:
    m, f = const_mantissa(values, node, what)
    return FixedType.covering(min(int(m.min()), 0), max(int(m.max()), 0), f)


def hls_layer_list(model: ModelWrapper) -> list[HlsLayer]:
    """The hls4ml layers computing the canonical model exactly (NotExact names what cannot be)."""
    types = infer_fixed_point_types(model)
    layers: list[HlsLayer] = []
    nodes = list(model.graph.node)
    done: set[str] = set()
    inp = model.graph.input[0].name
    first = nodes[0]
    if first.op_type != "Quant" or first.input[0] != inp:
        raise NotExact(first, "float tensor in the datapath", f"graph input {inp} must feed a Quant first")
    p = check_quant(model, first)
    shape = list(model.get_tensor_shape(inp)[1:])
    layers.append(HlsLayer({"class_name": "InputLayer", "name": "x_in", "input_shape": shape},
                           {"result": _quant_precision(first, p)}, [first.name]))
    done.add(first.name)
    current = {first.output[0]: "x_in"}  # canonical tensor -> hls4ml layer producing it

    def source_of(tensor, node):
        if tensor not in current:
            raise NotExact(node, "unsupported graph shape", f"{tensor} is not produced by a previous layer")
        return current[tensor]

    for node in nodes:
        if node.name in done:
            continue
        op, name = node.op_type, _safe(node.name)
        out = node.output[0]
        if op == "MatMul":
            w = model.get_initializer(node.input[1])
            wtype = _const_type(w, node, f"weight {node.input[1]}")
            nxt = consumers(model, out)
            bias, btype, srcs = np.zeros(w.shape[1], np.float32), FixedType(False, 1, 0), [node.name]
            if len(nxt) == 1 and nxt[0].op_type == "Add" and model.get_initializer(nxt[0].input[1]) is not None:
                b = model.get_initializer(nxt[0].input[1]).reshape(-1)
                if b.size == w.shape[1]:
                    bias = b
                    btype = _const_type(b, nxt[0], f"bias {nxt[0].input[1]}")
                    srcs.append(nxt[0].name)
                    done.add(nxt[0].name)
                    out = nxt[0].output[0]
            t = types[out].hls()
            layers.append(HlsLayer({"class_name": "Dense", "name": name, "inputs": [source_of(node.input[0], node)],
                                    "weight_data": w.astype(np.float64), "bias_data": bias.astype(np.float64),
                                    "n_in": int(w.shape[0]), "n_out": int(w.shape[1])},
                                   {"weight": wtype.hls(), "bias": btype.hls(), "accum": t, "result": t}, srcs))
        elif op == "Relu":
            nxt = consumers(model, out)
            srcs, precision = [node.name], types[out].hls()
            if len(nxt) == 1 and nxt[0].op_type == "Quant":
                qp = check_quant(model, nxt[0])
                precision = _quant_precision(nxt[0], qp)
                srcs.append(nxt[0].name)
                done.add(nxt[0].name)
                out = nxt[0].output[0]
            layers.append(HlsLayer({"class_name": "Activation", "activation": "relu", "name": name,
                                    "inputs": [source_of(node.input[0], node)]}, {"result": precision}, srcs))
        elif op == "Quant":
            qp = check_quant(model, node)
            layers.append(HlsLayer({"class_name": "Activation", "activation": "linear", "name": name,
                                    "inputs": [source_of(node.input[0], node)]},
                                   {"result": _quant_precision(node, qp)}, [node.name]))
        elif op in ("ReduceMean", "ReduceMax"):
            in_shape = model.get_tensor_shape(node.input[0])
            axes = reduce_axes(model, node, len(in_shape))
            if len(in_shape) != 3 or axes != [1] or attr(node, "keepdims", 1) != 0:
                raise NotExact(node, "pooling not over the particle axis",
                               f"hls4ml pools (batch, particles, features) over axis 1; got shape {in_shape}, axes {axes}")
            n, c = int(in_shape[1]), int(in_shape[2])
            t = types[out]
            spec = {"name": name, "inputs": [source_of(node.input[0], node)], "n_in": n, "n_filt": c}
            if op == "ReduceMax":
                layers.append(HlsLayer({"class_name": "GlobalMaxPooling1D", **spec},
                                       {"accum": t.hls(), "result": t.hls()}, [node.name]))
            else:
                # hls4ml's average accumulates the sum in accum_t and divides by N: exact when
                # N = 2**k and the mean type has k more fractional bits than the sum.
                k = log2_exact(n)
                if k is None:
                    raise NotExact(node, "pooling over a non power-of-two count",
                                   f"hls4ml divides by {n}; pad the particle axis to a power of two")
                accum = FixedType(t.signed, t.width + k, t.frac)  # the sum (and the division) at the mean's grid
                layers.append(HlsLayer({"class_name": "GlobalAveragePooling1D", **spec},
                                       {"accum": accum.hls(), "result": t.hls()}, [node.name]))
        elif op in ROUTING_OPS:
            layer, out = _route_layer(model, node, types, source_of(node.input[0], node), done)
            layers.append(layer)
        elif op == "Concat":
            if len(node.input) != 2 or any(i not in current for i in node.input):
                raise NotExact(node, "unsupported Concat for the hls4ml backend",
                               "hls4ml concatenates exactly two computed tensors")
            rank = len(model.get_tensor_shape(out))
            axis = axis_attr(node, rank)
            if rank > 4:
                raise NotExact(node, "unsupported Concat for the hls4ml backend", "hls4ml concatenates up to rank 3")
            spec = {"class_name": "Concatenate", "op": f"concatenate{rank - 1}d", "name": name, "axis": axis,
                    "inputs": [source_of(i, node) for i in node.input]}
            layers.append(HlsLayer(spec, {"result": types[out].hls()}, [node.name]))  # holds both inputs exactly
        elif op in ("Reshape", "Flatten"):
            target = list(model.get_tensor_shape(out)[1:])
            layers.append(HlsLayer({"class_name": "Reshape", "name": name, "inputs": [source_of(node.input[0], node)],
                                    "target_shape": target}, {"result": types[out].hls()}, [node.name]))
        else:
            raise NotExact(node, "unsupported op for the hls4ml backend", f"{op} has no exact hls4ml layer here")
        done.add(node.name)
        current[out] = layers[-1].spec["name"]
    return layers


ROUTING_OPS = ("Gather", "Transpose", "ReduceSum")


def _route_positions(model, node, positions: np.ndarray) -> np.ndarray:
    """The op applied to an array of positions (batch axis excluded): for each output element,
    the positions it reads on a last axis (one for a wire, k for a k-input sum)."""
    op = node.op_type
    if op == "Transpose":
        return np.transpose(positions, [p - 1 for p in attr(node, "perm")[1:]])[..., None]
    if op == "Gather":
        axis = axis_attr(node, positions.ndim + 1) - 1  # batch axis excluded
        return np.take(positions, gather_indices(model, node, positions.shape[axis]), axis=axis)[..., None]
    if op == "ReduceSum":
        axes = [a - 1 for a in reduce_axes(model, node, positions.ndim + 1)]
        out_shape = list(model.get_tensor_shape(node.output[0])[1:])
        moved = np.moveaxis(positions, axes, list(range(-len(axes), 0)))
        return moved.reshape(out_shape + [-1])
    assert op in ("Reshape", "Flatten")
    return positions.reshape(list(model.get_tensor_shape(node.output[0])[1:]) + [1])


def _route_layer(model, node, types, source: str, done: set) -> tuple[HlsLayer, str]:
    """A chain of routing ops (Gather, Transpose, ReduceSum, and Reshapes between them) as one
    layer of wires and adder trees from a constant table of input positions (routing.py)."""
    in_shape = list(model.get_tensor_shape(node.input[0])[1:])
    table = _route_positions(model, node, np.arange(int(np.prod(in_shape))).reshape(in_shape))
    srcs, out = [node.name], node.output[0]
    while True:  # absorb routing consumers: compose their tables with this one
        nxt = consumers(model, out)
        if len(nxt) != 1 or nxt[0].op_type not in ROUTING_OPS + ("Reshape", "Flatten") or \
                out in {o.name for o in model.graph.output}:
            break
        outer = _route_positions(model, nxt[0], np.arange(int(np.prod(table.shape[:-1]))).reshape(table.shape[:-1]))
        table = table.reshape(-1, table.shape[-1])[outer].reshape(outer.shape[:-1] + (-1,))
        srcs.append(nxt[0].name)
        done.add(nxt[0].name)
        out = nxt[0].output[0]
    table = table.reshape(-1, table.shape[-1])
    t_in, t_out = types[node.input[0]], types[out]
    k = table.shape[1]
    accum = FixedType(t_in.signed, t_in.width + int(k - 1).bit_length(), t_in.frac)  # k * [min, max] of t_in
    spec = {"class_name": ROUTE, "name": _safe(node.name), "inputs": [source], "n_in": int(np.prod(in_shape)),
            "n_out": int(table.shape[0]), "n_sum": int(k), "table": table.tolist(),
            "out_shape": [int(d) for d in model.get_tensor_shape(out)[1:]]}
    return HlsLayer(spec, {"accum": accum.hls(), "result": t_out.hls()}, srcs), out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


@dataclass
class HlsProject:
    """An hls4ml model graph plus what l1forge set, for checks and reports."""
    hls_model: object
    layers: list[HlsLayer]
    output_dir: Path

    def write(self) -> None:
        """Write the HLS project. hls4ml's writer imports Keras whenever it is installed (a YAML
        representer), which with the keras extra starts TensorFlow, whose C++ start-up logs go to
        stderr: kept off the terminal (errors still raise)."""
        with silenced_stderr():
            self.hls_model.write()

    def check_types(self) -> None:
        """Every type of every layer is one l1forge set: none is hls4ml's default (the sentinel)."""
        for layer in self.hls_model.get_layers():
            for var in list(layer.variables.values()) + list(layer.weights.values()):
                p = var.type.precision
                if (getattr(p, "width", None), getattr(p, "integer", None), getattr(p, "signed", None)) == \
                        (SENTINEL_WIDTH, SENTINEL_INTEGER, True):
                    raise L1ForgeError(f"hls4ml layer {layer.name}: {var.name} fell back to the default precision")


def hls_config(layers: list[HlsLayer], output_dir: Path, part: str, clock_ns: float, backend: str,
               reuse_factor: int) -> dict:
    """hls4ml's configuration: io_parallel, Latency, every layer's precision explicit."""
    return {
        "OutputDir": str(output_dir), "ProjectName": "l1forge_model", "Backend": backend, "Part": part,
        "ClockPeriod": clock_ns, "IOType": "io_parallel",
        "HLSConfig": {
            "Model": {"Precision": SENTINEL_DEFAULT, "ReuseFactor": reuse_factor, "Strategy": "Latency"},
            "LayerName": {l.spec["name"]: {"Precision": l.precision, "ReuseFactor": reuse_factor, "Trace": True}
                          for l in layers},
        },
    }


def build_hls_model(model: ModelWrapper, output_dir: Path, part: str = "xcvu13p-flga2577-2-e",
                    clock_ns: float = 5.0, backend: str = "Vitis", reuse_factor: int = 1) -> HlsProject:
    """An hls4ml ModelGraph (io_parallel, Latency) for the canonical model, written to output_dir."""
    from hls4ml.model.graph import ModelGraph

    register_routing()
    layers = hls_layer_list(model)
    config = hls_config(layers, output_dir, part, clock_ns, backend, reuse_factor)
    project = HlsProject(ModelGraph.from_layer_list(config, [l.spec for l in layers]), layers, Path(output_dir))
    project.check_types()
    return project
