"""l1forge's qonnx custom-op domain (`l1forge.compiler.ir.custom_ops`): ops the QONNX standard
lacks, each with an executable reference that qonnx's execute_onnx runs, so the IR stays a QONNX
model whose meaning qonnx computes.

Table: y = values[x * 2**in_frac - in_min] * 2**-out_frac. The input lies on a power-of-two grid
(the output of a per-tensor Quant); `values` are the output mantissas for every input code from
in_min up. A function of one quantized input (sigmoid, tanh, exp, softplus, SiLU, leaky ReLU)
becomes a Table whose values ARE its meaning: the emulator, hls4ml and the RTL use the same
entries. `function` names what was tabulated and `max_error` is the largest |table - function|
over the input grid (rounding and saturation of the output quantizer included).

DivQuant: y = Quant(x / divisor), a qonnx Quant (same inputs: x, scale, zero point, bit width;
same attributes: signed, narrow, rounding_mode) of its input divided by a constant integer first.
It is the exact meaning of a mean over a count that is not a power of two, followed by a
quantizer: the rounding of sum / N on the quantizer's grid, ties as its rounding mode says.

NoiseSource: Gaussian noise drawn on chip by LFSRs (compiler.ir.noise defines it exactly). Its
input is the firmware's input stream, read only for its length: row k of one execution is clock
cycle k after power-up, so an execution is one stream from reset.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.custom_op.base import CustomOp

DOMAIN = "l1forge.compiler.ir.custom_ops"


def table_attributes(node) -> dict:
    """in_frac, in_min, out_frac, values (int64 array), function, max_error of a Table node."""
    out = {"function": "", "max_error": 0.0}
    for a in node.attribute:
        out[a.name] = helper.get_attribute_value(a)
    out["values"] = np.asarray(out["values"], dtype=np.int64)
    out["function"] = out["function"].decode() if isinstance(out["function"], bytes) else out["function"]
    return out


def lookup(mantissas: np.ndarray, table: dict) -> np.ndarray:
    """Output mantissas (grid 2**-out_frac) for input mantissas on the table's input grid."""
    index = np.asarray(mantissas, dtype=np.int64) - int(table["in_min"])
    if index.size and (index.min() < 0 or index.max() >= len(table["values"])):
        raise ValueError(f"Table input outside its {len(table['values'])} entries")
    return table["values"][index]


def make_table_node(name: str, inp: str, out: str, *, in_frac: int, in_min: int, out_frac: int,
                    values: np.ndarray, function: str, max_error: float):
    return helper.make_node("Table", [inp], [out], name=name, domain=DOMAIN, in_frac=int(in_frac),
                            in_min=int(in_min), out_frac=int(out_frac), values=[int(v) for v in values],
                            function=function, max_error=float(max_error))


class _ElementwiseOp(CustomOp):
    """An l1forge op computed element by element: the output has its first input's shape."""

    def make_shape_compatible_op(self, model):
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        from qonnx.core.datatype import DataType

        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def verify_node(self):
        return []


class Table(_ElementwiseOp):
    """qonnx's executable reference of the Table op (see the module docstring)."""

    def get_nodeattr_types(self):
        return {"in_frac": ("i", True, 0), "in_min": ("i", True, 0), "out_frac": ("i", True, 0),
                "values": ("ints", True, []), "function": ("s", False, ""), "max_error": ("f", False, 0.0)}

    def execute_node(self, context, graph):
        table = table_attributes(self.onnx_node)
        x = np.asarray(context[self.onnx_node.input[0]], dtype=np.float64)
        m = x * 2.0 ** table["in_frac"]
        if not np.array_equal(m, np.round(m)):
            raise ValueError(f"Table {self.onnx_node.name}: input off its grid 2**-{table['in_frac']}")
        y = lookup(m.astype(np.int64), table) * 2.0 ** -table["out_frac"]
        context[self.onnx_node.output[0]] = y.astype(context[self.onnx_node.input[0]].dtype)


def make_div_quant_node(name: str, quant, inp: str, divisor: int):
    """A DivQuant equal to `quant` (a Quant node) applied to inp / divisor."""
    node = helper.make_node("DivQuant", [inp, *quant.input[1:4]], [quant.output[0]], name=name, domain=DOMAIN,
                            divisor=int(divisor))
    node.attribute.extend(a for a in quant.attribute if a.name in ("signed", "narrow", "rounding_mode"))
    return node


class DivQuant(_ElementwiseOp):
    """qonnx's executable reference of the DivQuant op (see the module docstring): the division in
    float64 (exact to the grid for mantissas and divisors far below 2**53, ties included: a tie is a
    binary fraction), then qonnx's own Quant."""

    def get_nodeattr_types(self):
        return {"divisor": ("i", True, 1), "signed": ("i", False, 1), "narrow": ("i", False, 0),
                "rounding_mode": ("s", False, "ROUND")}

    def execute_node(self, context, graph):
        from qonnx.custom_op.general.quant import quant

        node = self.onnx_node
        x = np.asarray(context[node.input[0]], dtype=np.float64) / self.get_nodeattr("divisor")
        scale, zero, bits = (context[i] for i in node.input[1:4])
        y = quant(x, np.asarray(scale, np.float64), np.asarray(zero, np.float64), bits,
                  self.get_nodeattr("signed"), self.get_nodeattr("narrow"), self.get_nodeattr("rounding_mode"))
        context[node.output[0]] = np.asarray(y).astype(context[node.input[0]].dtype)


class NoiseSource(CustomOp):
    """qonnx's executable reference of the NoiseSource op (see the module docstring)."""

    def get_nodeattr_types(self):
        return {"columns": ("ints", True, []), "seeds": ("strings", True, []), "address_bits": ("i", True, 0),
                "frac": ("i", True, 0), "bits": ("i", True, 0), "values": ("ints", True, []),
                "function": ("s", False, ""), "lfsr": ("s", False, "")}

    def make_shape_compatible_op(self, model):
        batch = model.get_tensor_shape(self.onnx_node.input[0])[0]
        return helper.make_node("RandomNormal", [], [self.onnx_node.output[0]],
                                shape=[batch, len(self.get_nodeattr("columns"))])

    def infer_node_datatype(self, model):
        from qonnx.core.datatype import DataType

        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def verify_node(self):
        return []

    def execute_node(self, context, graph):
        from .noise import node_spec

        spec = node_spec(self.onnx_node)
        inp = context[self.onnx_node.input[0]]
        context[self.onnx_node.output[0]] = (spec.draws(len(inp)) * 2.0 ** -spec.frac).astype(inp.dtype)


custom_op = {"Table": Table, "DivQuant": DivQuant, "NoiseSource": NoiseSource}
