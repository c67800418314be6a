"""The hls4ml lowering table: each canonical op (compiler.ir.ops) -> hls4ml layer dicts with
explicit, exact precisions.

A lowering reads one node and returns the layer it becomes and the canonical tensor that layer
outputs; it may absorb the node's single consumer into the same layer (MatMul + bias Add ->
Dense, Relu + Quant -> one activation with the Quant's cast, chains of routing ops -> one routing
layer). A standalone Add or Mul of two computed tensors is an hls4ml Merge; one with a constant
operand that no Dense absorbed is refused naming the node.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from ...ir.fixed import ConstantDivision, FixedType, division_operands, log2_exact
from ...ir.integer import NotExact, check_quant, const_mantissa, quant_bounds, quant_spec, quant_type
from ...ir.model import attr, axis_attr, consumers, gather_indices, reduce_axes
from ...ir.types import infer_fixed_point_types
from ...ir.custom_ops import table_attributes
from .division import DIVIDE, ROUNDING
from .noise import noise_layer
from .routing import ROUTE
from .tables import TABLE


@dataclass
class HlsLayer:
    """One hls4ml layer dict plus the precisions l1forge sets for it."""
    spec: dict
    precision: dict[str, str]
    sources: list[str] = field(default_factory=list)  # canonical nodes it implements


@dataclass
class _Lowering:
    """The state of one lowering: which hls4ml layer produces each canonical tensor, which nodes
    a previous layer already absorbed."""
    model: ModelWrapper
    types: dict[str, FixedType]
    current: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def source(self, tensor: str, node) -> str:
        if tensor not in self.current:
            raise NotExact(node, "unsupported graph shape", f"{tensor} is not produced by a previous layer")
        return self.current[tensor]

    def single_consumer(self, tensor: str, *ops: str):
        """The only consumer of `tensor` when it is one of `ops` (to absorb it), else None."""
        nxt = consumers(self.model, tensor)
        return nxt[0] if len(nxt) == 1 and nxt[0].op_type in ops else None

    def absorb(self, node, srcs: list[str]) -> str:
        self.done.add(node.name)
        srcs.append(node.name)
        return node.output[0]


def _const_type(values, node, what) -> FixedType:
    m, f = const_mantissa(values, node, what)
    return FixedType.covering(min(int(m.min()), 0), max(int(m.max()), 0), f)


def _dense(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    model = ctx.model
    w = model.get_initializer(node.input[1])
    wtype = _const_type(w, node, f"weight {node.input[1]}")
    bias, btype, srcs, out = np.zeros(w.shape[1], np.float32), FixedType(False, 1, 0), [node.name], node.output[0]
    add = ctx.single_consumer(out, "Add")
    if add is not None and model.get_initializer(add.input[1]) is not None:
        b = model.get_initializer(add.input[1]).reshape(-1)
        if b.size == w.shape[1]:
            bias, btype = b, _const_type(b, add, f"bias {add.input[1]}")
            out = ctx.absorb(add, srcs)
    t = ctx.types[out].hls()
    return HlsLayer({"class_name": "Dense", "name": _safe(node.name), "inputs": [ctx.source(node.input[0], node)],
                     "weight_data": w.astype(np.float64), "bias_data": bias.astype(np.float64),
                     "n_in": int(w.shape[0]), "n_out": int(w.shape[1])},
                    {"weight": wtype.hls(), "bias": btype.hls(), "accum": t, "result": t}, srcs), out


def _relu(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    srcs, out = [node.name], node.output[0]
    precision = ctx.types[out].hls()
    quant = ctx.single_consumer(out, "Quant")
    if quant is not None and _has_cast(ctx, quant) and _cast_reads_within(INT_LITERAL, quant_spec(quant, check_quant(
            ctx.model, quant))):  # relu writes an int 0 in the result type
        precision = str(quant_spec(quant, check_quant(ctx.model, quant)))
        out = ctx.absorb(quant, srcs)
    return HlsLayer({"class_name": "Activation", "activation": "relu", "name": _safe(node.name),
                     "inputs": [ctx.source(node.input[0], node)]}, {"result": precision}, srcs), out


def _has_cast(ctx: _Lowering, node) -> bool:
    """Whether a Quant is one ap_fixed cast; CEIL and UP have no ap_fixed rounding (a per-tensor
    Quant rounding so becomes l1forge's division layer, by 1)."""
    p = check_quant(ctx.model, node)
    return p["rounding_mode"] not in NO_CAST_ROUNDING or p["channel_frac"] is not None


NO_CAST_ROUNDING = ("CEIL", "UP")


# hls4ml's ap_types (0.8's copy of Xilinx's) abort the C simulation ("Attempting to read bit beyond
# MSB") on a cast that rounds (any mode but AP_TRN) when the target's last bit lies more than the
# source's width above the source's last bit: F_source - F_target > W_source. Found by the fuzzer;
# pinned in tests/compiler/backends/test_hls4ml_lowering.py. Such a cast gets a source widened on
# its own grid (exact), and relu (which writes an int literal 0, W 32, F 0) keeps the cast apart.
INT_LITERAL = FixedType(True, 32, 0)


def _cast_reads_within(source: FixedType, spec) -> bool:
    return spec.rounding == "AP_TRN" or source.frac - spec.type.frac <= source.width


def _widen_cast_sources(ctx: _Lowering) -> None:
    """Each tensor a rounding cast reads (a Quant's input; a Relu's input when the Relu's single
    consumer is that Quant) widened on its grid so the cast reads no bit beyond its MSB."""
    for node in ctx.model.graph.node:
        if node.op_type != "Quant" or node.input[0] not in ctx.types or not _has_cast(ctx, node):
            continue
        spec = quant_spec(node, check_quant(ctx.model, node))
        producer = ctx.model.find_producer(node.input[0])
        sources = [node.input[0]] + ([producer.input[0]] if producer is not None and producer.op_type == "Relu" else [])
        for name in sources:
            t = ctx.types[name]
            if not _cast_reads_within(t, spec):
                ctx.types[name] = FixedType(t.signed, t.frac - spec.type.frac, t.frac)


def _quant(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    if not _has_cast(ctx, node):
        return _division(ctx, node, 1)
    precision = str(quant_spec(node, check_quant(ctx.model, node)))
    return HlsLayer({"class_name": "Activation", "activation": "linear", "name": _safe(node.name),
                     "inputs": [ctx.source(node.input[0], node)]}, {"result": precision}, [node.name]), node.output[0]


def _pool(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    in_shape = ctx.model.get_tensor_shape(node.input[0])
    axes = reduce_axes(ctx.model, node, len(in_shape))
    if len(in_shape) != 3 or axes != [1] or attr(node, "keepdims", 1) != 0:
        raise NotExact(node, "pooling not over the particle axis",
                       f"hls4ml pools (batch, particles, features) over axis 1; got shape {in_shape}, axes {axes}")
    n, c = int(in_shape[1]), int(in_shape[2])
    out = node.output[0]
    t = ctx.types[out]
    spec = {"name": _safe(node.name), "inputs": [ctx.source(node.input[0], node)], "n_in": n, "n_filt": c}
    if node.op_type == "ReduceMax":
        return HlsLayer({"class_name": "GlobalMaxPooling1D", **spec}, {"accum": t.hls(), "result": t.hls()},
                        [node.name]), out
    # hls4ml's average accumulates the sum in accum_t and divides by N: exact when N = 2**k and
    # the mean type has k more fractional bits than the sum.
    k = log2_exact(n)
    if k is None:
        raise NotExact(node, "pooling over a non power-of-two count",
                       f"hls4ml divides by {n}; pad the particle axis to a power of two")
    accum = FixedType(t.signed, t.width + k, t.frac)  # the sum (and the division) at the mean's grid
    return HlsLayer({"class_name": "GlobalAveragePooling1D", **spec}, {"accum": accum.hls(), "result": t.hls()},
                    [node.name]), out


def _concat(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    if len(node.input) != 2 or any(i not in ctx.current for i in node.input):
        raise NotExact(node, "unsupported Concat for the hls4ml backend",
                       "hls4ml concatenates exactly two computed tensors")
    out = node.output[0]
    rank = len(ctx.model.get_tensor_shape(out))
    if rank > 4:
        raise NotExact(node, "unsupported Concat for the hls4ml backend", "hls4ml concatenates up to rank 3")
    spec = {"class_name": "Concatenate", "op": f"concatenate{rank - 1}d", "name": _safe(node.name),
            "axis": axis_attr(node, rank), "inputs": [ctx.source(i, node) for i in node.input]}
    return HlsLayer(spec, {"result": ctx.types[out].hls()}, [node.name]), out  # holds both inputs exactly


def _reshape(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    out = node.output[0]
    target = list(ctx.model.get_tensor_shape(out)[1:])
    return HlsLayer({"class_name": "Reshape", "name": _safe(node.name), "inputs": [ctx.source(node.input[0], node)],
                     "target_shape": target}, {"result": ctx.types[out].hls()}, [node.name]), out


def _table(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    table = table_attributes(node)
    t_in, out = ctx.types[node.input[0]], node.output[0]
    if t_in.frac != table["in_frac"]:
        raise NotExact(node, "Table input grid", f"input type on 2**-{t_in.frac}, table on 2**-{table['in_frac']}")
    shape = [int(d) for d in ctx.model.get_tensor_shape(out)[1:]]
    values = table["values"] * 2.0 ** -table["out_frac"]
    spec = {"class_name": TABLE.class_name, "name": _safe(node.name), "inputs": [ctx.source(node.input[0], node)],
            "n_in": int(np.prod(shape)), "in_min": int(table["in_min"]), "in_width": t_in.width,
            "in_signed": t_in.signed, "values": values.tolist(), "out_shape": shape}
    return HlsLayer(spec, {"result": ctx.types[out].hls()}, [node.name]), out


def _divide(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    return _division(ctx, node, int(attr(node, "divisor")))


def _division(ctx: _Lowering, node, divisor: int) -> tuple[HlsLayer, str]:
    """DivQuant (or a Quant: divisor 1): the exact division by a constant of l1forge_divide.h,
    every constant computed here from the input type and the quantizer
    (compiler.ir.fixed.ConstantDivision)."""
    p = check_quant(ctx.model, node)
    if p["channel_frac"] is not None:
        raise NotExact(node, "per-channel quantizer of a division for the hls4ml backend",
                       "the hls4ml division layer quantizes on one grid per tensor; compile with --backend rtl")
    t_in, t_out = ctx.types[node.input[0]], quant_type(p)
    up, den = division_operands(t_in.frac - p["frac"], divisor)
    division = ConstantDivision.over(den, t_in.min_int << up, t_in.max_int << up)
    out_min, out_max = quant_bounds(p)
    wide = max(FixedType.covering(v, v, 0).width for v in (division.lo, division.hi, 2 * den, division.offset + 1,
                                                              out_min, out_max)) + 1
    prod = max(1, (division.top * division.recip).bit_length(), division.top.bit_length())
    shape = [int(d) for d in ctx.model.get_tensor_shape(node.output[0])[1:]]
    spec = {"class_name": DIVIDE.class_name, "name": _safe(node.name), "inputs": [ctx.source(node.input[0], node)],
            "n_in": int(np.prod(shape)), "in_width": t_in.width, "in_signed": t_in.signed, "up": up,
            "shift": division.shift, "rounding": ROUNDING[p["rounding_mode"]], "out_min": out_min, "out_max": out_max,
            "wide_bits": wide, "prod_bits": prod, "out_width": t_out.width, "out_signed": t_out.signed,
            "divisor": den, "offset": division.offset, "recip": division.recip, "out_shape": shape}
    return HlsLayer(spec, {"result": t_out.hls()}, [node.name]), node.output[0]


def _merge(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    """Add / Mul of two computed tensors of one shape: hls4ml's Merge, exact in the result type
    (the sum or product of two ap_fixed values is formed at full precision before the cast)."""
    shapes = [ctx.model.get_tensor_shape(i) for i in node.input]
    if any(i not in ctx.current for i in node.input) or shapes[0] != shapes[1]:
        op = "sum" if node.op_type == "Add" else "product"
        raise NotExact(node, f"unsupported {node.op_type} for the hls4ml backend",
                       f"hls4ml forms the elementwise {op} of two computed tensors of one shape; got {shapes}")
    out = node.output[0]
    return HlsLayer({"class_name": "Merge", "op": "add" if node.op_type == "Add" else "multiply",
                     "name": _safe(node.name), "inputs": [ctx.source(i, node) for i in node.input]},
                    {"result": ctx.types[out].hls()}, [node.name]), out


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


def _route(ctx: _Lowering, node) -> tuple[HlsLayer, str]:
    """A chain of routing ops (Gather, Transpose, ReduceSum, and Reshapes between them) as one
    layer of wires and adder trees from a constant table of input positions (routing.py)."""
    model = ctx.model
    in_shape = list(model.get_tensor_shape(node.input[0])[1:])
    table = _route_positions(model, node, np.arange(int(np.prod(in_shape))).reshape(in_shape))
    srcs, out = [node.name], node.output[0]
    outputs = {o.name for o in model.graph.output}
    while out not in outputs:  # absorb routing consumers: compose their tables with this one
        nxt = ctx.single_consumer(out, *ROUTING_OPS, "Reshape", "Flatten")
        if nxt is None:
            break
        outer = _route_positions(model, nxt, np.arange(int(np.prod(table.shape[:-1]))).reshape(table.shape[:-1]))
        table = table.reshape(-1, table.shape[-1])[outer].reshape(outer.shape[:-1] + (-1,))
        out = ctx.absorb(nxt, srcs)
    table = table.reshape(-1, table.shape[-1])
    t_in, t_out = ctx.types[node.input[0]], ctx.types[out]
    k = table.shape[1]
    accum = FixedType(t_in.signed, t_in.width + int(k - 1).bit_length(), t_in.frac)  # k * [min, max] of t_in
    spec = {"class_name": ROUTE.class_name, "name": _safe(node.name), "inputs": [ctx.source(node.input[0], node)],
            "n_in": int(np.prod(in_shape)), "n_out": int(table.shape[0]), "n_sum": int(k), "table": table.tolist(),
            "out_shape": [int(d) for d in model.get_tensor_shape(out)[1:]]}
    return HlsLayer(spec, {"accum": accum.hls(), "result": t_out.hls()}, srcs), out


# The lowering table: canonical op -> its hls4ml layer (io_parallel, Latency).
LOWERING = {
    "MatMul": _dense, "Relu": _relu, "Quant": _quant, "ReduceMean": _pool, "ReduceMax": _pool,
    "Gather": _route, "Transpose": _route, "ReduceSum": _route, "Concat": _concat,
    "Reshape": _reshape, "Flatten": _reshape, "Table": _table, "Add": _merge, "Mul": _merge, "DivQuant": _divide,
}


def hls_layer_list(model: ModelWrapper, noise=None) -> list[HlsLayer]:
    """The hls4ml layers computing the canonical model exactly (NotExact names what cannot be);
    with `noise` (a NoiseSpec) the input layer holds the condition columns and a noise layer makes
    the model's input rows."""
    ctx = _Lowering(model, infer_fixed_point_types(model))
    nodes = list(model.graph.node)
    inp, first = model.graph.input[0].name, nodes[0]
    if first.op_type != "Quant" or first.input[0] != inp:
        raise NotExact(first, "float tensor in the datapath", f"graph input {inp} must feed a Quant first")
    p = check_quant(model, first)  # the firmware is fed the quantized input: the type, any rounding
    precision = str(quant_spec(first, p)) if _has_cast(ctx, first) else quant_type(p).hls()
    _widen_cast_sources(ctx)  # after the input's check: refusals come in graph order
    shape = list(model.get_tensor_shape(inp)[1:])
    if noise is None:
        layers = [HlsLayer({"class_name": "InputLayer", "name": "x_in", "input_shape": shape},
                           {"result": precision}, [first.name])]
    else:
        conditions = [shape[0] - noise.lanes]
        layers = [HlsLayer({"class_name": "InputLayer", "name": "x_in", "input_shape": conditions},
                           {"result": precision}, []),  # the conditions: no tensor of the network
                  HlsLayer(noise_layer(noise, "noise_source", "x_in", shape[0]), {"result": precision}, [first.name])]
    ctx.done.add(first.name)
    ctx.current[first.output[0]] = layers[-1].spec["name"]
    for node in nodes:
        if node.name in ctx.done:
            continue
        lower = LOWERING.get(node.op_type)
        if lower is None:
            raise NotExact(node, "unsupported op for the hls4ml backend", f"{node.op_type} has no exact hls4ml layer here")
        layer, out = lower(ctx, node)
        layers.append(layer)
        ctx.done.add(node.name)
        ctx.current[out] = layer.spec["name"]
    return layers


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
