"""Canonical IR -> the integer graph FINN maps to hardware layers, built here so that FINN never
has to convert a quantizer itself.

Every tensor between layers is carried as its integer codes (value * 2**frac). A MatMul with a
constant becomes a MatMul with integer weights (annotated INTk); the chain that follows it up to
the next Quant (bias Add, Relu, the Quant with its rounding mode and saturation) is one monotone
function of the integer accumulator, emitted as a MultiThreshold whose thresholds are found
exactly, per channel and per output level, by bisection over the accumulator's whole range.
FINN then fuses MatMul + MultiThreshold into one MVAU. FINN's own Quant -> MultiThreshold
conversion places every threshold at (k + 1/2) steps with >=, which is rounding half up: it
differs from qonnx's ROUND (half to even) at exact ties (pinned in
tests/compiler/backends/test_finn.py), hence this lowering.

Sum and mean pooling over the constituents become FINN's GlobalAccPool, an exact integer sum
over the streamed set (FINN maps no ReduceSum, and its GlobalAveragePool conversion leaves a float
Mul by 1/N behind); a mean over 2**k is the same sum codes read k fraction bits lower. Max
pooling is an N x 1 MaxPoolNHWC, which FINN turns into its sliding-window generator and Pool.
The output layer's bias is an integer Add; the host reads the output codes and scales them by
2**-output_frac.

The interaction network's gathers of constituent pairs, and its sums of each constituent's
incoming edges (a Gather of a 2-D index table under a ReduceSum), are constant 0/1 or count
matrices along the set axis: the set is transposed into the channels (FINN's shuffles), multiplied
by the matrix (an MVAU, exact integer sums) and transposed back. A concatenation of channels is
FINN's StreamingConcat, after a diagonal power-of-two MatMul brings a part on a coarser grid to the
finest one; a tensor read twice is split by FINN's DuplicateStreams. Reshapes of the input come before the first layer and are done by the host
(the firmware's input is the quantized input's codes in the shape the first layer takes).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper

from ...errors import L1ForgeError
from ...ir.fixed import FixedType
from ...ir.integer import check_quant, const_mantissa, quant_bounds, requantize
from ...ir.model import attr, const, reduce_axes

# The graph is written in float64 (initializers, input and output), which FINN's python execution
# keeps: integers are exact up to 2**53. In float32 an 8-bit deep set's pooled layer (sums of 32
# codes times 8-bit weights, up to 2**25) would already round.
EXACT = 2 ** 53
# The ops of the chain between an accumulator and the next Quant that the thresholds absorb.
_CHAIN_OPS = ("Add", "Relu")
HW_DOMAIN = "finn.custom_op.fpgadataflow"
QONNX_DOMAIN = "qonnx.custom_op.general"


@dataclass
class FinnGraph:
    """The lowered graph and how the host talks to it."""
    model: ModelWrapper
    input_shape: list[int]  # per sample, what the firmware takes (codes of the input Quant)
    input_frac: int  # codes = input value * 2**input_frac
    output_frac: int  # output value = codes * 2**-output_frac
    layers: list[dict] = field(default_factory=list)  # what each lowered node implements
    # FINN tensor -> (canonical node whose output it holds, its frac): where a mismatch is traced
    canonical_tensors: dict[str, tuple[str, int]] = field(default_factory=dict)


def _refuse(node, why: str) -> L1ForgeError:
    return L1ForgeError(f"finn backend: node {node.name} ({node.op_type}) {why}")


def _int_datatype(lo: int, hi: int) -> str:
    """The narrowest FINN integer datatype holding [lo, hi] (FINN's signed types start at INT2)."""
    t = FixedType.covering(int(lo), int(hi), 0)
    return f"INT{max(2, t.width)}" if t.signed else f"UINT{t.width}"


class _Builder:
    def __init__(self):
        self.nodes, self.inits, self.datatypes, self.layers = [], [], {}, []
        self.count = 0
        self.input_shape: list[int] | None = None  # fixed when the first layer consumes the input
        self.canonical: dict[str, tuple[str, int]] = {}
        self.value_info: list = []
        self.transposed: dict[str, str] = {}  # tensor -> its set transposed into the channels

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def initializer(self, base: str, values: np.ndarray, datatype: str | None = None) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.float64), name))
        if datatype:
            self.datatypes[name] = datatype
        return name

    def emit(self, op: str, inputs: list[str], shape: list[int], datatype: str, implements: list[str],
             **attrs) -> str:
        """A node with output of per-sample `shape` (its value_info: FINN's shape inference needs
        the input shapes of custom ops such as MaxPoolNHWC)."""
        out = self.name(f"{op}_out")
        self.value_info.append(helper.make_tensor_value_info(out, TensorProto.DOUBLE, [1] + list(shape)))
        domain = {"MultiThreshold": QONNX_DOMAIN, "MaxPoolNHWC": QONNX_DOMAIN, "GlobalAccPool": HW_DOMAIN}.get(op, "")
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(op), domain=domain, **attrs))
        self.datatypes[out] = datatype
        self.layers.append({"node": self.nodes[-1].name, "op": op, "output": out, "implements": list(implements)})
        return out


@dataclass
class _Acc:
    """An integer tensor of the FINN graph: codes at `frac`, range [lo, hi], and the chain of
    canonical ops applied since (absorbed by the next MultiThreshold)."""
    tensor: str
    frac: int
    lo: int
    hi: int
    shape: list[int]
    chain: list = field(default_factory=list)
    implements: list = field(default_factory=list)
    stream: list[int] | None = None  # FINN's per-sample shape, when not finn_shape(shape)

    @property
    def finn(self) -> list[int]:
        return self.stream or finn_shape(self.shape)


def _chain_value(acc: _Acc, a: np.ndarray) -> tuple[np.ndarray, int]:
    """The chain applied to accumulator codes `a` (int64, channels last): (mantissas, frac)."""
    v, frac = a.astype(np.int64), acc.frac
    for kind, *args in acc.chain:
        if kind == "add":
            b, fb = args
            common = max(frac, fb)
            v = (v << (common - frac)) + (b << (common - fb))
            frac = common
        elif kind == "relu":
            v = np.maximum(v, 0)
    return v, frac


def thresholds(acc: _Acc, p: dict) -> tuple[np.ndarray, int, int]:
    """Exact MultiThreshold thresholds of chain + Quant p: T[c, k] is the smallest accumulator
    code whose output level is >= lo + k + 1 (hi + 1 past the range: never reached).
    Returns (T of shape (channels, levels - 1), lo, hi)."""
    lo, hi = quant_bounds(p)
    channels = acc.shape[-1]
    levels = np.arange(lo + 1, hi + 1, dtype=np.int64)[None, :]
    below = np.full((channels, levels.size), acc.lo - 1, dtype=np.int64)  # f(below) < level (virtual)
    above = np.full((channels, levels.size), acc.hi + 1, dtype=np.int64)  # f(above) >= level (virtual)
    while np.any(above - below > 1):
        mid = below + (above - below) // 2
        v, frac = _chain_value(acc, mid.T)  # channels last
        out = requantize(v, frac - p["frac"], p["rounding_mode"], lo, hi).T
        reached = out >= levels
        above, below = np.where(reached, mid, above), np.where(reached, below, mid)
    return above, lo, hi


def lower_for_finn(model: ModelWrapper) -> FinnGraph:
    """The FINN-ready integer graph of a canonical model (one-line errors naming a node that has
    no exact lowering)."""
    b = _Builder()
    first = model.find_consumer(model.graph.input[0].name)
    if first is None or first.op_type != "Quant":
        raise L1ForgeError("finn backend: the model input must go through a Quant first")
    p = check_quant(model, first)
    if p["channel_frac"] is not None:
        raise _refuse(first, "has per-channel scales; the finn backend takes one input grid")
    lo, hi = quant_bounds(p)
    shape = list(model.get_tensor_shape(first.output[0])[1:])
    accs = {first.output[0]: _Acc("global_in", p["frac"], lo, hi, shape)}  # canonical tensor -> FINN tensor
    b.datatypes["global_in"] = _int_datatype(lo, hi)
    input_frac, computed, fused = p["frac"], False, set()
    order = list(model.graph.node)
    for node in order[order.index(first) + 1:]:
        if node.name in fused:
            continue
        op = node.op_type
        if op == "Concat":
            accs[node.output[0]] = _concat(b, node, [_read(accs, node, t) for t in node.input])
            continue
        acc = _read(accs, node, node.input[0])
        if op == "Reshape" and not computed:
            acc = replace(acc, shape=list(model.get_tensor_shape(node.output[0])[1:]))  # done by the host
        elif op == "Quant":
            acc = _requantize(b, model, node, acc)
        elif op in _CHAIN_OPS:
            acc = _absorb(model, node, acc)
        elif op == "MatMul":
            acc, computed = _matmul(b, model, node, acc), True
        elif op in ("ReduceMean", "ReduceSum", "ReduceMax"):
            acc, computed = _pool(b, model, node, acc), True
        elif op == "Gather":
            acc, node = _gather(b, model, node, acc)
            fused.add(node.name)
            computed = True
        else:
            raise _refuse(node, "has no FINN lowering yet (the finn backend maps MatMul with constants, bias, "
                                "Relu, Quant, sum, mean and max pooling, and gathers and concatenations of sets)")
        accs[node.output[0]] = acc
    acc = _read(accs, order[-1], model.graph.output[0].name)
    out = _output(b, model, acc)
    graph = helper.make_graph(b.nodes, model.graph.name or "l1forge",
                              [helper.make_tensor_value_info("global_in", TensorProto.DOUBLE, [1] + b.input_shape)],
                              [helper.make_tensor_value_info(out.tensor, TensorProto.DOUBLE, [1] + out.finn)],
                              initializer=b.inits, value_info=[v for v in b.value_info if v.name != out.tensor])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    proto.ir_version = 8  # FINN's onnx 1.21 / onnxruntime 1.25 read it
    finn = ModelWrapper(proto)
    for tensor, datatype in b.datatypes.items():
        _annotate(finn, tensor, datatype)
    b.canonical[out.tensor] = (order[-1].name, out.frac)
    return FinnGraph(finn, b.input_shape, input_frac, out.frac, b.layers, b.canonical)


def _annotate(model: ModelWrapper, tensor: str, datatype: str) -> None:
    """A qonnx finn_datatype annotation, written as qonnx's ModelWrapper.set_tensor_datatype does
    (without importing FINN's DataType registry on this side)."""
    ann = onnx.TensorAnnotation()
    ann.tensor_name = tensor
    kv = ann.quant_parameter_tensor_names.add()
    kv.key, kv.value = "finn_datatype", datatype
    model.graph.quantization_annotation.append(ann)


def finn_shape(shape: list[int]) -> list[int]:
    """The per-sample shape FINN gets: a set of N vectors [N, C] as NHWC [N, 1, C], the layout
    whose fused MVAU thresholds FINN's python execution applies per channel (on a 3-D [N, C]
    tensor it thresholds along N: silently wrong when N == C, pinned in the tests)."""
    if len(shape) == 1:
        return list(shape)
    if len(shape) == 2:
        return [shape[0], 1, shape[1]]
    raise L1ForgeError(f"finn backend: tensors of per-sample shape {shape} are not lowered (vectors or sets "
                       "of vectors only)")


def _first_compute(b: _Builder, acc: _Acc) -> None:
    """The firmware input is fixed when the first layer consumes it."""
    if b.input_shape is None:
        b.input_shape = acc.finn


def _matmul(b: _Builder, model, node, acc: _Acc) -> _Acc:
    w = const(model, node.input[1])
    if w is None:
        raise _refuse(node, "multiplies two variables; the finn backend maps products with a constant only")
    if acc.chain:
        raise _refuse(node, "takes an unquantized input; FINN layers take integer codes from a Quant")
    _first_compute(b, acc)
    w_int, fw = const_mantissa(w, node, "the weights")
    if np.abs(w_int).max(initial=0) >= EXACT:
        raise _refuse(node, "has weights needing more than 53 bits")
    col = np.abs(w_int).sum(axis=0)
    reach = int(max(abs(acc.lo), abs(acc.hi)) * col.max(initial=0))
    if reach >= EXACT:
        raise _refuse(node, f"accumulates up to {reach}, beyond the 2**53 FINN's float64 execution holds exactly")
    wt = b.initializer("weights", w_int, _int_datatype(int(w_int.min(initial=0)), int(w_int.max(initial=0))))
    pos, neg = np.clip(w_int, 0, None), np.clip(w_int, None, 0)
    lo = int((acc.lo * pos + acc.hi * neg).sum(axis=0).min())
    hi = int((acc.hi * pos + acc.lo * neg).sum(axis=0).max())
    cols = int(w.shape[-1])
    out = b.emit("MatMul", [acc.tensor, wt], acc.finn[:-1] + [cols], _int_datatype(lo, hi), [node.name])
    return _Acc(out, acc.frac + fw, lo, hi, acc.shape[:-1] + [cols], [], [node.name], acc.finn[:-1] + [cols])


def _pool(b: _Builder, model, node, acc: _Acc) -> _Acc:
    """Pooling over the constituents of [N, C] codes, on the NHWC stream [N, 1, C]: a sum (or a
    mean over 2**k) as FINN's GlobalAccPool, which adds each channel's N values exactly; a max as
    an N x 1 MaxPoolNHWC, which FINN maps to a sliding-window generator and its Pool layer (the
    max of codes on one grid is the codes of the max)."""
    axes = reduce_axes(model, node, len(acc.shape) + 1)
    if acc.chain or len(acc.shape) != 2 or axes != [1]:
        raise _refuse(node, "is not a pooling of quantized [N, C] codes over the N axis")
    if attr(node, "keepdims", 1):
        raise _refuse(node, "keeps the reduced axis; the finn backend pools [N, C] to [C]")
    _first_compute(b, acc)
    n, c = acc.shape
    if node.op_type == "ReduceMax":
        out = b.emit("MaxPoolNHWC", [acc.tensor], [1, 1, c], b.datatypes[acc.tensor], [node.name], kernel_shape=[n, 1],
                     strides=[n, 1], pads=[0, 0, 0, 0])
        return _Acc(out, acc.frac, acc.lo, acc.hi, [c], [], [node.name], [1, 1, c])
    if node.op_type == "ReduceMean" and (n & (n - 1)):
        raise _refuse(node, f"averages over {n}, not a power of two (exact means over other counts are not "
                            "lowered to FINN yet)")
    lo, hi = acc.lo * n, acc.hi * n
    out = b.emit("GlobalAccPool", [acc.tensor], [1, 1, c], _int_datatype(lo, hi), [node.name], backend="fpgadataflow",
                 NumChannels=c, PE=1, inputDataType=b.datatypes[acc.tensor], numInputVectors=[1, n, 1])
    # a mean over 2**k is the sum read k fraction bits lower: the same codes
    frac = acc.frac + (n.bit_length() - 1 if node.op_type == "ReduceMean" else 0)
    return _Acc(out, frac, lo, hi, [c], [], [node.name], [1, 1, c])


def _absorb(model, node, acc: _Acc) -> _Acc:
    if node.op_type == "Relu":
        step = ("relu",)
    else:
        bias = const(model, node.input[1])
        if bias is None:
            raise _refuse(node, "adds two variables; the finn backend maps a constant bias only")
        values = np.broadcast_to(bias, [1] + acc.shape).reshape(-1, acc.shape[-1])
        if np.any(values != values[:1]):
            raise _refuse(node, "adds a bias that varies along an axis other than the channels")
        step = ("add", *const_mantissa(values[0], node, "the bias"))
    return replace(acc, chain=acc.chain + [step], implements=acc.implements + [node.name])


def _read(accs: dict, node, tensor: str) -> _Acc:
    if tensor not in accs:
        raise _refuse(node, f"reads {tensor}, which the finn lowering did not produce (a constant or an unlowered "
                            "branch)")
    return accs[tensor]


def _set_map(b: _Builder, acc: _Acc, m: np.ndarray, implements: list[str]) -> _Acc:
    """A constant 0/1/count matrix m [N, R] applied along the set axis of [N, C] codes: out[r, c] =
    sum_n m[n, r] x[n, c]. FINN's MVAU multiplies along channels, so the set is transposed into the
    channels, multiplied (exact integer sums) and transposed back (FINN's Shuffle layers)."""
    n, c = acc.shape
    r = m.shape[1]
    counts = m.sum(axis=0)  # each output sums counts[r] inputs of [acc.lo, acc.hi]
    lo, hi = int((acc.lo * counts).min()), int((acc.hi * counts).max())
    dtype = b.datatypes[acc.tensor]
    across = b.transposed.get(acc.tensor)
    if across is None:  # one transposed copy serves every map of this tensor
        across = b.emit("Transpose", [acc.tensor], [c, 1, n], dtype, implements, perm=[0, 3, 2, 1])
        b.transposed[acc.tensor] = across
    # a signed type: FINN's MVAU takes 1-bit weights only as bipolar (+-1), and these are 0/1 or counts
    wt = b.initializer("set_map", m, _int_datatype(-1, int(m.max(initial=0))))
    mapped = b.emit("MatMul", [across, wt], [c, 1, r], _int_datatype(lo, hi), implements)
    out = b.emit("Transpose", [mapped], [r, 1, c], _int_datatype(lo, hi), implements, perm=[0, 3, 2, 1])
    return _Acc(out, acc.frac, lo, hi, [r, c], [], list(implements))


def _gather(b: _Builder, model, node, acc: _Acc):
    """Gather of constituents with constant indices (the interaction network's pairs) on [N, C]
    codes: as a 0/1 matrix along the set axis. With 2-D indices [R, K] it must feed a ReduceSum
    over its K axis (the sum of each node's incoming edges), fused here into a count matrix.
    Returns (acc, the canonical node whose output it is)."""
    idx = const(model, node.input[1])
    if acc.chain or len(acc.shape) != 2 or attr(node, "axis", 0) != 1 or idx is None:
        raise _refuse(node, "is not a gather of quantized [N, C] codes along N with constant indices")
    _first_compute(b, acc)
    n = acc.shape[0]
    idx = np.where(idx < 0, idx + n, idx).astype(np.int64)
    if idx.ndim == 1:
        m = np.zeros((n, len(idx)), dtype=np.int64)
        m[idx, np.arange(len(idx))] = 1
        return _set_map(b, acc, m, [node.name]), node
    consumers = model.find_consumers(node.output[0])
    total = consumers[0] if len(consumers) == 1 else None
    if (idx.ndim != 2 or total is None or total.op_type != "ReduceSum"
            or reduce_axes(model, total, 4) != [2] or attr(total, "keepdims", 1)):
        raise _refuse(node, "gathers a 2-D index table that no ReduceSum over its second axis consumes")
    m = np.zeros((n, idx.shape[0]), dtype=np.int64)
    np.add.at(m, (idx, np.repeat(np.arange(idx.shape[0])[:, None], idx.shape[1], axis=1)), 1)
    return _set_map(b, acc, m, [node.name, total.name]), total


def _concat(b: _Builder, node, parts: list[_Acc]) -> _Acc:
    """Channels of sets (or vectors) side by side: FINN's StreamingConcat. Parts on coarser grids
    are first brought to the finest one by a diagonal power-of-two MatMul (exact)."""
    rank = len(parts[0].shape)
    if (attr(node, "axis") not in (-1, rank) or any(p.chain for p in parts)
            or any(p.shape[:-1] != parts[0].shape[:-1] for p in parts)):
        raise _refuse(node, "is not a concatenation of quantized codes along the channels")
    frac = max(p.frac for p in parts)
    aligned = []
    for p in parts:
        if p.frac < frac:
            scale = 1 << (frac - p.frac)
            wt = b.initializer("align", np.eye(p.shape[-1], dtype=np.int64) * scale, _int_datatype(0, scale))
            lo, hi = p.lo * scale, p.hi * scale
            out = b.emit("MatMul", [p.tensor, wt], p.finn, _int_datatype(lo, hi), [node.name])
            p = _Acc(out, frac, lo, hi, p.shape, [], [], p.stream)
        aligned.append(p)
    lo, hi = min(p.lo for p in aligned), max(p.hi for p in aligned)
    shape = parts[0].shape[:-1] + [sum(p.shape[-1] for p in parts)]
    out = b.emit("Concat", [p.tensor for p in aligned], finn_shape(shape), _int_datatype(lo, hi), [node.name],
                 axis=-1)
    return _Acc(out, frac, lo, hi, shape, [], [node.name])


def _requantize(b: _Builder, model, node, acc: _Acc) -> _Acc:
    p = check_quant(model, node)
    if p["channel_frac"] is not None:
        raise _refuse(node, "has per-channel scales; FINN's MultiThreshold counts levels on one grid")
    lo, hi = quant_bounds(p)
    if not acc.chain and acc.frac == p["frac"] and lo <= acc.lo and acc.hi <= hi:
        return acc  # the codes already lie on this grid and range: nothing to do
    t, lo, hi = thresholds(acc, p)
    if np.abs(t).max(initial=0) >= EXACT:
        raise _refuse(node, "needs thresholds beyond 2**53, which FINN's float64 execution does not hold exactly")
    _first_compute(b, acc)
    tt = b.initializer("thresholds", t, _int_datatype(int(t.min()), int(t.max())))
    layout = {1: "NC", 3: "NHWC"}[len(acc.finn)]
    out = b.emit("MultiThreshold", [acc.tensor, tt], acc.finn, _int_datatype(lo, hi), acc.implements + [node.name],
                 out_dtype=_int_datatype(lo, hi), out_bias=float(lo), data_layout=layout)
    b.canonical[out] = (node.name, p["frac"])
    return _Acc(out, p["frac"], lo, hi, list(acc.shape), [], [], acc.stream)


def _output(b: _Builder, model, acc: _Acc) -> _Acc:
    """The last accumulator: a bias becomes an integer Add (codes at the finest grid); a Relu
    without a Quant is refused (FINN has no plain integer ReLU layer here)."""
    if any(kind == "relu" for kind, *_ in acc.chain):
        raise L1ForgeError("finn backend: the output ends in a Relu without a Quant; quantize the output")
    for kind, m, fb in acc.chain:  # only bias adds remain
        if fb > acc.frac:
            raise L1ForgeError("finn backend: the output bias is finer than the output layer's accumulator grid; "
                               "quantize the output")
        bias = m << (acc.frac - fb)
        bt = b.initializer("output_bias", bias, _int_datatype(int(bias.min()), int(bias.max())))
        lo, hi = acc.lo + int(bias.min()), acc.hi + int(bias.max())
        out = b.emit("Add", [acc.tensor, bt], acc.finn, _int_datatype(lo, hi), acc.implements)
        acc = _Acc(out, acc.frac, lo, hi, acc.shape, stream=acc.stream)
    return acc
