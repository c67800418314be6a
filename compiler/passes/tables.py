"""TabulateFunctions: a function of one quantized tensor becomes an l1forge Table.

Matches Quant -> f -> Quant, f one of FUNCTIONS (ONNX Sigmoid, Tanh, Exp, Softplus, LeakyRelu) or
SiLU as the exporters write it (Mul(x, Sigmoid(x))), where both Quants are per tensor with
power-of-two scales. The f node (and the SiLU Mul) and the output Quant are replaced by one Table
reading the input Quant's output: for every code of the input quantizer, f (in float64; LeakyRelu
as the float32 graph computes it, one float32 product), then the output Quant exactly as qonnx
computes it (its rounding and saturation). An input wider than
MAX_TABLE_INPUT_BITS is refused with the width it would need, never truncated. Functions not in
this pattern stay and are refused later as unsupported ops, naming the node.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.quant import quant
from qonnx.transformation.base import Transformation

from ..ir.custom_ops import make_table_node
from ..ir.integer import NotExact, check_quant, quant_bounds
from ..ir.model import attr, const, consumers, producer

MAX_TABLE_INPUT_BITS = 16


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # no overflow for large |v|


FUNCTIONS = {
    "Sigmoid": lambda v, node: _sigmoid(v),
    "Tanh": lambda v, node: np.tanh(v),
    "Exp": lambda v, node: np.exp(np.minimum(v, 700.0)),
    "Softplus": lambda v, node: np.logaddexp(0.0, v),
    "LeakyRelu": lambda v, node: _leaky_relu_float32(v, attr(node, "alpha", 0.01)),
}


def _leaky_relu_float32(v: np.ndarray, alpha: float) -> np.ndarray:
    """ONNX LeakyRelu as the float32 graph computes it (torch, onnxruntime, qonnx): one IEEE
    float32 product, deterministic everywhere. Its rounding matters: with alpha = 0.01 (not a
    binary fraction) a product can round onto an output tie that the float64 product misses."""
    v32 = v.astype(np.float32)
    return np.where(v32 >= 0, v32, v32 * np.float32(alpha)).astype(np.float64)


def _silu_mul(model: ModelWrapper, sigmoid, x: str):
    """The Mul that makes x * Sigmoid(x) (SiLU), when the Sigmoid's only consumer is one."""
    nxt = consumers(model, sigmoid.output[0])
    if len(nxt) == 1 and nxt[0].op_type == "Mul" and set(nxt[0].input) == {x, sigmoid.output[0]}:
        return nxt[0]
    return None


def _per_tensor_quant(model: ModelWrapper, node, role: str) -> dict:
    p = check_quant(model, node)
    if p["channel_frac"] is not None:
        raise NotExact(node, f"per-channel {role} quantizer of a table function",
                       "a Table needs one grid per tensor; quantize the function's input and output per tensor")
    return p


class TabulateFunctions(Transformation):
    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in list(model.graph.node):
            if node.op_type not in FUNCTIONS:
                continue
            q_in = producer(model, node.input[0])
            if q_in is None or q_in.op_type != "Quant" or const(model, q_in.input[0]) is not None:
                continue
            fn, name, last = FUNCTIONS[node.op_type], node.op_type.lower(), node
            if node.op_type == "Sigmoid" and (mul := _silu_mul(model, node, node.input[0])) is not None:
                fn, name, last = (lambda v, n: v * _sigmoid(v)), "silu", mul
            nxt = consumers(model, last.output[0])
            if len(nxt) != 1 or nxt[0].op_type != "Quant":
                continue
            q_out = nxt[0]
            self._replace(model, node, last, q_in, q_out, fn, name)
            return model, True
        return model, False

    @staticmethod
    def _replace(model, node, last, q_in, q_out, fn, name) -> None:
        p_in = _per_tensor_quant(model, q_in, "input")
        p_out = _per_tensor_quant(model, q_out, "output")
        bits = int(p_in["bit_width"])
        if bits > MAX_TABLE_INPUT_BITS:
            raise NotExact(node, "table input too wide",
                           f"{name} of a {bits}-bit input needs a table of 2**{bits} entries; at most "
                           f"{MAX_TABLE_INPUT_BITS} bits are tabulated: quantize its input to <= {MAX_TABLE_INPUT_BITS} bits")
        lo, hi = quant_bounds(p_in)
        grid = np.arange(lo, hi + 1, dtype=np.float64) * 2.0 ** -p_in["frac"]
        exact = fn(grid, node)
        table = np.asarray(quant(exact, p_out["scale"], p_out["zero_point"], p_out["bit_width"], int(p_out["signed"]),
                                 int(p_out["narrow"]), p_out["rounding_mode"]), dtype=np.float64).reshape(-1)
        mantissas = table * 2.0 ** p_out["frac"]
        assert np.array_equal(mantissas, np.round(mantissas))
        graph = model.graph
        index = list(graph.node).index(node)
        for dead in {id(n): n for n in (node, last, q_out)}.values():
            graph.node.remove(dead)
        graph.node.insert(index, make_table_node(
            f"{name}_{q_out.name}", q_in.output[0], q_out.output[0], in_frac=p_in["frac"], in_min=lo,
            out_frac=p_out["frac"], values=mantissas.astype(np.int64), function=name,
            max_error=float(np.max(np.abs(table - exact)))))
