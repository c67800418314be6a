"""Small hand-built QONNX graphs for pass and backend tests."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model


def quant_node(model_inits, name, inp, out, scale, bits, signed=1, narrow=0):
    model_inits += [helper.make_tensor(f"{name}_s", TensorProto.FLOAT, [], [scale]),
                    helper.make_tensor(f"{name}_z", TensorProto.FLOAT, [], [0.0]),
                    helper.make_tensor(f"{name}_b", TensorProto.FLOAT, [], [float(bits)])]
    return helper.make_node("Quant", [inp, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                            domain="qonnx.custom_op.general", rounding_mode="ROUND", signed=signed, narrow=narrow)


def make_model(nodes, inits, in_shape, out_shape, opset=13) -> ModelWrapper:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], initializer=inits)
    model = qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return ModelWrapper(model)


def channels_first_pooling(kind: str, n: int = 8, c: int = 4, opset: int = 13) -> ModelWrapper:
    """x (1, n, c) -> Quant -> Transpose(0,2,1) -> Global{Average,Max}Pool -> Flatten -> y (1, c):
    the pattern exporters make of a channels-first deep set."""
    inits = []
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Transpose", ["xq"], ["xt"], name="tr", perm=[0, 2, 1]),
             helper.make_node(kind, ["xt"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["y"], name="flat", axis=1)]
    return make_model(nodes, inits, [1, n, c], [1, c], opset)


def unsqueeze_reduce_squeeze(n: int = 8, c: int = 4) -> ModelWrapper:
    """The dynamo exporter's adaptive pooling: Unsqueeze -> ReduceMean(keepdims=1) -> Squeeze."""
    inits = [helper.make_tensor("ax_u", TensorProto.INT64, [1], [3]),
             helper.make_tensor("ax_r", TensorProto.INT64, [2], [1, 3]),
             helper.make_tensor("ax_s", TensorProto.INT64, [2], [1, 3])]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Unsqueeze", ["xq", "ax_u"], ["xu"], name="unsq"),
             helper.make_node("ReduceMean", ["xu", "ax_r"], ["r"], name="mean", keepdims=1),
             helper.make_node("Squeeze", ["r", "ax_s"], ["y"], name="sq")]
    return make_model(nodes, inits, [1, n, c], [1, c], opset=18)


def float_scale_dense(scale: float = 0.1) -> ModelWrapper:
    """Quant with a non power-of-two scale feeding a MatMul."""
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [4, 3], np.linspace(-1, 1, 12).tolist())]
    nodes = [quant_node(inits, "q_in", "x", "xq", scale, 8),
             helper.make_node("MatMul", ["xq", "w"], ["y"], name="mm")]
    return make_model(nodes, inits, [1, 4], [1, 3])


def _quantized_dense(f: int, c: int, seed: int) -> tuple[list, list]:
    """Initializers and nodes of x -> Quant (12 bit, 2**-8) -> MatMul (f, c) -> + bias = "hb"."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, (f, c)) / 64.0
    b = rng.integers(-512, 512, c) / 256.0
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [f, c], w.ravel().tolist()),
             helper.make_tensor("b", TensorProto.FLOAT, [c], b.tolist())]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-8, 12),
             helper.make_node("MatMul", ["xq", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["hb"], name="bias")]
    return inits, nodes


def per_particle_dense(n: int = 8, f: int = 3, c: int = 4, seed: int = 0) -> ModelWrapper:
    """x (1, n, f) -> Quant -> MatMul (f, c) + bias -> Relu -> Quant -> y (1, n, c): a deep set's
    phi layer, the MatMul-with-constant-on-(particles, features) pattern."""
    inits, nodes = _quantized_dense(f, c, seed)
    nodes += [helper.make_node("Relu", ["hb"], ["r"], name="relu"),
              quant_node(inits, "q_act", "r", "y", 2.0**-5, 8, signed=0)]
    return make_model(nodes, inits, [1, n, f], [1, n, c])


def signed_requant(mode: str, n: int = 4, f: int = 3, c: int = 4, seed: int = 5) -> ModelWrapper:
    """x -> Quant -> MatMul + bias -> Quant(mode, signed 8 bit, 2**-5) -> y: no Relu, so the
    requantization meets negative and positive ties (rounding_mode as qonnx names it)."""
    inits, nodes = _quantized_dense(f, c, seed)
    nodes.append(quant_node(inits, "q_out", "hb", "y", 2.0**-5, 8))
    for a in nodes[-1].attribute:
        if a.name == "rounding_mode":
            a.s = mode.encode()
    return make_model(nodes, inits, [1, n, f], [1, n, c])


def constant_product(c: np.ndarray, x_shape: tuple[int, ...], left: bool = True) -> ModelWrapper:
    """x -> Quant -> MatMul(c, xq) (left) or MatMul(xq, c) (right) -> y: the interaction network's
    pair construction / aggregation with the constant c."""
    c = np.asarray(c, dtype=np.float32)
    inits = [helper.make_tensor("c", TensorProto.FLOAT, list(c.shape), c.ravel().tolist())]
    ins = ["c", "xq"] if left else ["xq", "c"]
    out_shape = [x_shape[0]] + ([c.shape[0], x_shape[-1]] if left else [x_shape[1], c.shape[1]])
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-6, 10),
             helper.make_node("MatMul", ins, ["y"], name="product")]
    return make_model(nodes, inits, list(x_shape), out_shape)


def gather_nd_pairs(n: int = 8, f: int = 3) -> ModelWrapper:
    """The dynamo exporter's x[:, idx]: Transpose (particles first) -> GatherND -> Transpose back."""
    idx = np.array([s for r in range(n) for s in range(n) if s != r], dtype=np.int64)[:, None]
    inits = [helper.make_tensor("idx", TensorProto.INT64, list(idx.shape), idx.ravel().tolist())]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-6, 10),
             helper.make_node("Transpose", ["xq"], ["xt"], name="particles_first", perm=[1, 0, 2]),
             helper.make_node("GatherND", ["xt", "idx"], ["g"], name="pairs", batch_dims=0),
             helper.make_node("Transpose", ["g"], ["y"], name="batch_first", perm=[1, 0, 2])]
    return make_model(nodes, inits, [1, n, f], [1, len(idx), f])


def per_channel_dense(mode: str = "ROUND", n: int = 4, c: int = 5, seed: int = 7, batch_scale: bool = False,
                      input_fracs=(3, 6, 8), act_fracs=(2, 4, 5, 7, 3), tops=None) -> ModelWrapper:
    """x (1, n, 3) -> Quant (per-feature scales 2**-input_fracs, 10 bit) -> MatMul with a weight
    Quant per output channel -> + bias -> Quant(mode, signed 8 bit, per-channel 2**-act_fracs) -> y:
    every tensor on per-channel power-of-two grids (HGQ-style). batch_scale gives the activation
    scale a leading axis of 2 (varying along the batch axis). tops (per channel, in LSBs of each
    channel's grid) adds a Min with those upper bounds after the activation Quant (per-channel
    saturation, as the HGQ exporter writes it)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-2, 2, (3, c))
    b = rng.integers(-512, 512, c) / 256.0
    w_scale = 2.0 ** -np.array([5, 7, 6, 4, 8][:c])
    a_shape = [2 if batch_scale else 1, 1, c]
    a_scale = np.broadcast_to(2.0 ** -np.asarray(act_fracs, dtype=float)[:c], a_shape)
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [3, c], w.ravel().tolist()),
             helper.make_tensor("b", TensorProto.FLOAT, [c], b.tolist()),
             helper.make_tensor("s_in", TensorProto.FLOAT, [1, 1, 3], (2.0 ** -np.asarray(input_fracs, float)).tolist()),
             helper.make_tensor("s_w", TensorProto.FLOAT, [1, c], w_scale.tolist()),
             helper.make_tensor("s_act", TensorProto.FLOAT, a_shape, np.ravel(a_scale).tolist()),
             helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])]
    for name, bits in (("b10", 10), ("b8", 8)):
        inits.append(helper.make_tensor(name, TensorProto.FLOAT, [], [float(bits)]))
    qdomain = "qonnx.custom_op.general"
    nodes = [helper.make_node("Quant", ["x", "s_in", "zero", "b10"], ["xq"], name="q_in", domain=qdomain,
                              rounding_mode="ROUND", signed=1, narrow=0),
             helper.make_node("Quant", ["w", "s_w", "zero", "b8"], ["wq"], name="q_w", domain=qdomain,
                              rounding_mode="ROUND", signed=1, narrow=1),
             helper.make_node("MatMul", ["xq", "wq"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["hb"], name="bias"),
             helper.make_node("Quant", ["hb", "s_act", "zero", "b8"], ["y" if tops is None else "a"], name="q_act",
                              domain=qdomain, rounding_mode=mode, signed=1, narrow=0)]
    if tops is not None:
        bound = np.asarray(tops, dtype=float) * np.ravel(a_scale)[:c]
        inits.append(helper.make_tensor("top", TensorProto.FLOAT, [c], bound.tolist()))
        nodes.append(helper.make_node("Min", ["a", "top"], ["y"], name="range"))
    return make_model(nodes, inits, [1, n, 3], [1, n, c])


def quantized_function(op: str, in_bits: int = 8, in_scale: float = 2.0**-4, out_bits: int = 8,
                       out_scale: float = 2.0**-6, out_signed: int = 1, silu: bool = False,
                       mode: str = "ROUND", **attrs) -> ModelWrapper:
    """x (1, 6) -> Quant -> op (or x * Sigmoid(x) with silu) -> Quant -> y: a table function."""
    inits = []
    nodes = [quant_node(inits, "q_in", "x", "xq", in_scale, in_bits),
             helper.make_node(op, ["xq"], ["f"], name="fn", **attrs)]
    if silu:
        nodes.append(helper.make_node("Mul", ["xq", "f"], ["fm"], name="silu_mul"))
    q_out = quant_node(inits, "q_out", "fm" if silu else "f", "y", out_scale, out_bits, signed=out_signed)
    for a in q_out.attribute:
        if a.name == "rounding_mode":
            a.s = mode.encode()
    nodes.append(q_out)
    return make_model(nodes, inits, [1, 6], [1, 6])


def gated_product(seed: int = 0) -> ModelWrapper:
    """x (1, 4) -> Quant -> two Dense branches -> Quant each; the gate through Quant -> Sigmoid ->
    Quant; out = h * gate + h (ConcatSquash's form) -> Quant."""
    rng = np.random.default_rng(seed)
    inits = [helper.make_tensor("w1", TensorProto.FLOAT, [4, 5], (rng.integers(-64, 64, 20) / 32.0).tolist()),
             helper.make_tensor("w2", TensorProto.FLOAT, [4, 5], (rng.integers(-64, 64, 20) / 32.0).tolist())]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("MatMul", ["xq", "w1"], ["a1"], name="mm1"),
             quant_node(inits, "q_h", "a1", "h", 2.0**-3, 8),
             helper.make_node("MatMul", ["xq", "w2"], ["a2"], name="mm2"),
             quant_node(inits, "q_g", "a2", "g", 2.0**-4, 8),
             helper.make_node("Sigmoid", ["g"], ["s"], name="sig"),
             quant_node(inits, "q_s", "s", "sq", 2.0**-7, 8, signed=0),
             helper.make_node("Mul", ["h", "sq"], ["p"], name="gate"),
             helper.make_node("Add", ["p", "h"], ["r"], name="skip"),
             quant_node(inits, "q_out", "r", "y", 2.0**-4, 10)]
    return make_model(nodes, inits, [1, 4], [1, 5])


def bias_free_gemm(seed: int = 0, n_in: int = 4, n_out: int = 3) -> ModelWrapper:
    """x -> Quant -> Gemm(x, W^T) without C (a Linear layer without bias) -> Quant."""
    rng = np.random.default_rng(seed)
    inits = [helper.make_tensor("W", TensorProto.FLOAT, [n_out, n_in], rng.integers(-8, 8, (n_out, n_in)) / 8)]
    nodes = [quant_node(inits, "qx", "x", "xq", 2.0**-3, 6),
             helper.make_node("Gemm", ["xq", "W"], ["h"], transB=1),
             quant_node(inits, "qy", "h", "y", 2.0**-3, 10)]
    return make_model(nodes, inits, [1, n_in], [1, n_out])


def constant_requant(biases: np.ndarray, mode: str, signed: int = 1, narrow: int = 0, bits: int = 5) -> ModelWrapper:
    """x -> Quant -> MatMul with one live column -> Add(biases) -> Quant(mode) -> y: every column
    but the first is its bias alone, a constant requantized to a 2**-6 grid (the bias grid 2**-9)."""
    n = len(biases)
    w = np.zeros((2, n))
    w[:, 0] = [0.25, -0.5]
    inits = [helper.make_tensor("W", TensorProto.FLOAT, [2, n], w.ravel()),
             helper.make_tensor("B", TensorProto.FLOAT, [n], np.asarray(biases, dtype=np.float64))]
    nodes = [quant_node(inits, "qx", "x", "xq", 2.0**-3, 6),
             helper.make_node("MatMul", ["xq", "W"], ["h"]),
             helper.make_node("Add", ["h", "B"], ["hb"]),
             quant_node(inits, "qy", "hb", "y", 2.0**-6, bits, signed=signed, narrow=narrow)]
    for a in nodes[-1].attribute:
        if a.name == "rounding_mode":
            a.s = mode.encode()
    return make_model(nodes, inits, [1, 2], [1, n])


def quantized_mean(n: int, mode: str, *, c: int = 3, signed: int = 1, narrow: int = 0, in_scale: float = 2.0**-3,
                   out_scale: float = 2.0**-2, bits: int = 6, dense: bool = False, seed: int = 0) -> ModelWrapper:
    """x (1, n, c) -> Quant (8 bit) -> ReduceMean over the n particles -> [MatMul -> Add -> Relu]
    -> Quant(mode, out_scale, bits) -> y: a mean over a count that may not be a power of two,
    quantized (with `dense`, after a linear layer with a bias)."""
    rng = np.random.default_rng(seed)
    inits = [helper.make_tensor("ax", TensorProto.INT64, [1], [1])]
    nodes = [quant_node(inits, "qx", "x", "xq", in_scale, 8),
             helper.make_node("ReduceMean", ["xq"], ["m"], name="mean", axes=[1], keepdims=0)]
    last = "m"
    if dense:
        inits += [helper.make_tensor("W", TensorProto.FLOAT, [c, c], rng.integers(-8, 8, (c, c)).ravel() / 4),
                  helper.make_tensor("B", TensorProto.FLOAT, [c], rng.integers(-16, 16, c) / 8)]
        nodes += [helper.make_node("MatMul", ["m", "W"], ["h"], name="mm"),
                  helper.make_node("Add", ["h", "B"], ["hb"], name="bias"),
                  helper.make_node("Relu", ["hb"], ["hr"], name="relu")]
        last = "hr"
    nodes.append(quant_node(inits, "qy", last, "y", out_scale, bits, signed=signed, narrow=narrow))
    for a in nodes[-1].attribute:
        if a.name == "rounding_mode":
            a.s = mode.encode()
    return make_model(nodes, inits, [1, n, c], [1, c])
