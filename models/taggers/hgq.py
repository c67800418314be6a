"""Taggers trained with learnable bit widths (models.quantizers): every weight (or every output
channel's weights), every activation channel and every input feature has its own power-of-two
grid; the loss adds beta times the effective bit operations (EBOPs) of the network, so training
trades accuracy against multiplierless-adder cost. Exported by l1forge's own QONNX writer (per-
element / per-channel scales, one bit width per Quant), which the RTL backend compiles bit-exact.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from l1forge.reference.ultrafast_jet_classification.models import pool_particles

from ..quantizers import FixedQuantizer, dense_ebops

GRANULARITIES = ("element", "channel")
INIT_WEIGHT_FRAC = 6.0
INIT_ACT_FRAC = 4.0


class HGQDense(nn.Module):
    """x @ W + b with learnable-grid W (per element or per output channel) and b (per channel)."""

    def __init__(self, n_in: int, n_out: int, granularity: str):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))
        shape = (n_in, n_out) if granularity == "element" else (1, n_out)
        self.wq = FixedQuantizer(shape, INIT_WEIGHT_FRAC, True, "weight")
        self.bq = FixedQuantizer((n_out,), INIT_WEIGHT_FRAC, True, "weight")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.wq(self.weight) + self.bq(self.bias)

    def ebops(self, input_bits: torch.Tensor, copies: int) -> torch.Tensor:
        return dense_ebops(self.wq.bits_per_element(self.weight), input_bits, copies)


class _Block(nn.Module):
    """Dense -> ReLU -> unsigned per-channel activation quantizer."""

    def __init__(self, n_in: int, n_out: int, granularity: str):
        super().__init__()
        self.dense = HGQDense(n_in, n_out, granularity)
        self.act = FixedQuantizer((n_out,), INIT_ACT_FRAC, False, "activation")

    def forward(self, x):
        return self.act(torch.relu(self.dense(x)))


class HGQDeepSetTagger(nn.Module):
    """The deep set (phi per particle, pooling, rho, logits) with learnable grids everywhere."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        g = cfg.hgq_granularity
        self.input_quant = FixedQuantizer((cfg.n_features,), cfg.input_bits - cfg.input_int_bits, True, "activation")
        widths = [cfg.n_features, *cfg.phi]
        self.phi = nn.ModuleList(_Block(a, b, g) for a, b in zip(widths, widths[1:]))
        self.pool_quant = FixedQuantizer((widths[-1],), INIT_ACT_FRAC, False, "activation")
        widths = [widths[-1], *cfg.rho]
        self.rho = nn.ModuleList(_Block(a, b, g) for a, b in zip(widths, widths[1:]))
        self.out = HGQDense(widths[-1], cfg.n_classes, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_quant(x)
        for block in self.phi:
            h = block(h)
        h = self.pool_quant(pool_particles(h, self.cfg.pool))
        for block in self.rho:
            h = block(h)
        return self.out(h)

    def ebops(self) -> torch.Tensor:
        """Effective bit operations of every constant product (phi once per particle)."""
        total, bits = 0.0, self.input_quant.bits_per_element()
        for block in self.phi:
            total = total + block.dense.ebops(bits, self.cfg.n_constituents)
            bits = block.act.bits_per_element()
        bits = self.pool_quant.bits_per_element()
        for block in self.rho:
            total = total + block.dense.ebops(bits, 1)
            bits = block.act.bits_per_element()
        return total + self.out.ebops(bits, 1)


class _GraphWriter:
    """Nodes and initializers of a QONNX graph, with fresh names."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem: str, value, dtype=np.float32) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs) -> str:
        from onnx import helper

        out = self.name(stem)
        domain = "qonnx.custom_op.general" if op == "Quant" else ""
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def quant(self, x: str, q: FixedQuantizer, scale_shape: tuple[int, ...], bits: int, stem: str) -> str:
        scale = q.scale_array().numpy().reshape(scale_shape)
        return self.node("Quant", [x, self.const(f"{stem}_scale", scale), self.const(f"{stem}_zero", 0.0),
                                   self.const(f"{stem}_bits", float(bits))], stem,
                         rounding_mode="ROUND", signed=int(q.signed), narrow=0)

    def dense(self, x: str, layer: HGQDense, stem: str) -> str:
        w, b = layer.weight.detach(), layer.bias.detach()
        wq = self.quant(self.const(f"{stem}_w", w.numpy()), layer.wq, tuple(layer.wq.frac.shape),
                        layer.wq.total_bits(w), f"{stem}_wq")
        bq = self.quant(self.const(f"{stem}_b", b.numpy()), layer.bq, tuple(layer.bq.frac.shape),
                        layer.bq.total_bits(b), f"{stem}_bq")
        return self.node("Add", [self.node("MatMul", [x, wq], f"{stem}_matmul"), bq], f"{stem}_bias")

    def activation(self, x: str, q: FixedQuantizer, rank: int, stem: str) -> str:
        shape = (1,) * (rank - 1) + tuple(q.frac.shape)
        return self.quant(self.node("Relu", [x], f"{stem}_relu"), q, shape, q.total_bits(), f"{stem}_act")


def export_hgq_deepset(model: HGQDeepSetTagger, path: str | Path) -> Path:
    """The trained deep set as a QONNX file: Quant nodes with per-element / per-channel
    power-of-two scales (weights and biases folded by the compiler), opset 13."""
    from onnx import TensorProto, helper
    from qonnx.util.basic import qonnx_make_model

    cfg = model.cfg
    model.eval()
    g = _GraphWriter()
    iq = model.input_quant
    h = g.quant("x", iq, (1, 1, cfg.n_features), iq.total_bits(), "input")
    for i, block in enumerate(model.phi):
        h = g.activation(g.dense(h, block.dense, f"phi{i}"), block.act, 3, f"phi{i}")
    op = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax"}[cfg.pool]
    if op == "ReduceSum":  # opset 13 takes ReduceSum's axes as an input
        h = g.node(op, [h, g.const("pool_axes", [1], np.int64)], "pool", keepdims=0)
    else:
        h = g.node(op, [h], "pool", axes=[1], keepdims=0)
    pq = model.pool_quant
    h = g.quant(h, pq, (1, pq.frac.shape[0]), pq.total_bits(), "pool_q")
    for i, block in enumerate(model.rho):
        h = g.activation(g.dense(h, block.dense, f"rho{i}"), block.act, 2, f"rho{i}")
    g.dense(h, model.out, "out")
    g.nodes[-1].output[0] = "y"  # the logits: the last Add
    graph = helper.make_graph(
        g.nodes, "hgq_deepset",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cfg.n_constituents, cfg.n_features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cfg.n_classes])], initializer=g.inits)
    onnx_model = qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="l1forge-hgq")
    from qonnx.core.modelwrapper import ModelWrapper

    wrapper = ModelWrapper(onnx_model)
    wrapper.save(str(path))
    return Path(path)


def bit_summary(model: nn.Module) -> dict:
    """How many weights are pruned (round to zero) and the mean bits of weights and activations."""
    weights = [m for m in model.modules() if isinstance(m, HGQDense)]
    total = sum(layer.weight.numel() for layer in weights)
    with torch.no_grad():
        zero = sum(int((layer.wq(layer.weight) == 0).sum()) for layer in weights)
        wbits = sum(float(layer.wq.bits_per_element(layer.weight).expand_as(layer.weight).sum()) for layer in weights)
        acts = [m for m in model.modules() if isinstance(m, FixedQuantizer) and m.kind == "activation"]
        abits = [float(q.bits_per_element().mean()) for q in acts]
    return {"weights": total, "weights_zero": zero, "mean_weight_bits": wbits / max(total, 1),
            "mean_activation_bits": float(np.mean(abits)) if abits else 0.0, "ebops": float(model.ebops().detach())}
