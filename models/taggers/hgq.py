"""Taggers trained with learnable bit widths (models.quantizers): every weight (or every output
channel's weights), every activation channel and every input feature has its own power-of-two
grid (with `hgq_per_particle`, every particle slot of the pT-ordered input its own as well, as
JEDI-linear's per-particle designs: soft particles get fewer bits, at the price of permutation
invariance). The loss adds beta times a resource term: a proxy of the adder bits of the
multiplierless adder trees (`adders`; 2-3.5x da4ml's LUT estimate, before its sharing of common
subexpressions) or HGQ's effective bit operations (`ebops`), so training trades accuracy against
multiplierless-adder cost. Exported by l1forge's own QONNX writer (per-element / per-channel
scales, one bit width per Quant), which the RTL backend compiles bit-exact.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from l1forge.reference.ultrafast_jet_classification.models import pool_particles

from ..quantizers import FixedQuantizer, dense_adder_cost, dense_ebops, sum_adder_cost

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

    def ebops(self, x: FixedQuantizer, copies: int) -> torch.Tensor:
        return dense_ebops(self.wq.bits_per_element(self.weight), x.bits_per_element(), copies)

    def adders(self, x: FixedQuantizer, copies: int) -> torch.Tensor:
        return dense_adder_cost(self.weight, self.wq, self.bias, self.bq, x.soft_frac(), x.max_seen, copies)


class _Block(nn.Module):
    """Dense -> ReLU -> unsigned activation quantizer (per channel, or per particle and channel)."""

    def __init__(self, n_in: int, n_out: int, granularity: str, slots: tuple[int, ...], rounding: str):
        super().__init__()
        self.dense = HGQDense(n_in, n_out, granularity)
        self.act = FixedQuantizer((*slots, n_out), INIT_ACT_FRAC, False, "activation", rounding)

    def forward(self, x):
        return self.act(torch.relu(self.dense(x)))


class HGQDeepSetTagger(nn.Module):
    """The deep set (phi per particle, pooling, rho, logits) with learnable grids everywhere."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        g, r = cfg.hgq_granularity, cfg.hgq_rounding
        slots = (cfg.n_constituents,) if cfg.hgq_per_particle else ()
        # the input arrives quantized (off chip): rounding it costs no logic, so half to even
        self.input_quant = FixedQuantizer((*slots, cfg.n_features), cfg.input_bits - cfg.input_int_bits, True,
                                          "activation")
        widths = [cfg.n_features, *cfg.phi]
        self.phi = nn.ModuleList(_Block(a, b, g, slots, r) for a, b in zip(widths, widths[1:]))
        self.pool_quant = FixedQuantizer((widths[-1],), INIT_ACT_FRAC, False, "activation", r)
        widths = [widths[-1], *cfg.rho]
        self.rho = nn.ModuleList(_Block(a, b, g, (), r) for a, b in zip(widths, widths[1:]))
        self.out = HGQDense(widths[-1], cfg.n_classes, g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_quant(x)
        for block in self.phi:
            h = block(h)
        h = self.pool_quant(pool_particles(h, self.cfg.pool))
        for block in self.rho:
            h = block(h)
        return self.out(h)

    @property
    def _phi_copies(self) -> int:
        """How many times the cost of a phi quantity with shared grids counts: once per particle
        (1 with per-particle grids, whose quantizers already hold every particle)."""
        return 1 if self.cfg.hgq_per_particle else self.cfg.n_constituents

    def _layers(self):
        """(dense, its input quantizer, copies) in order: phi is built once per particle."""
        x = self.input_quant
        for block in self.phi:
            yield block.dense, x, self._phi_copies
            x = block.act
        x = self.pool_quant
        for block in self.rho:
            yield block.dense, x, 1
            x = block.act
        yield self.out, x, 1

    def ebops(self) -> torch.Tensor:
        """Effective bit operations of every constant product (HGQ's resource term)."""
        return sum(dense.ebops(x, copies) for dense, x, copies in self._layers())

    def adders(self) -> torch.Tensor:
        """The adder proxy: adder trees of every layer, the pooling sum, and one bit per activation
        bit (saturation)."""
        total = sum(dense.adders(x, copies) for dense, x, copies in self._layers())
        n, last = self.cfg.n_constituents, self.phi[-1].act
        frac, top = last.soft_frac().expand(n, -1), last.max_seen.expand(n, -1)
        total = total + sum_adder_cost(frac, top, False)
        total = total + self._phi_copies * sum(b.act.bits_per_element().sum() for b in self.phi)
        return total + sum(b.act.bits_per_element().sum() for b in self.rho)

    def resource_cost(self) -> torch.Tensor:
        """The term beta multiplies in the loss (cfg.hgq_cost)."""
        return self.adders() if self.cfg.hgq_cost == "adders" else self.ebops()


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

    def quant(self, x: str, q: FixedQuantizer, rank: int, bits: int, stem: str) -> str:
        """Quant with q's scales, broadcast over the leading axes of a rank-`rank` tensor, then a
        Min with the per-channel saturation bounds where a channel's range is narrower than the
        Quant's one bit width."""
        scale = q.scale_array().numpy()
        scale = scale.reshape((1,) * (rank - scale.ndim) + scale.shape)
        out = self.node("Quant", [x, self.const(f"{stem}_scale", scale), self.const(f"{stem}_zero", 0.0),
                                  self.const(f"{stem}_bits", float(bits))], stem,
                        rounding_mode=q.qonnx_rounding, signed=int(q.signed), narrow=0)
        top = q.channel_top()
        if top is None or bool((top >= q.bounds(bits)[1]).all()):
            return out
        return self.node("Min", [out, self.const(f"{stem}_top", top.numpy() * q.scale_array().numpy())],
                         f"{stem}_range")

    def dense(self, x: str, layer: HGQDense, stem: str) -> str:
        w, b = layer.weight.detach(), layer.bias.detach()
        wq = self.quant(self.const(f"{stem}_w", w.numpy()), layer.wq, 2, layer.wq.total_bits(w), f"{stem}_wq")
        bq = self.quant(self.const(f"{stem}_b", b.numpy()), layer.bq, 1, layer.bq.total_bits(b), f"{stem}_bq")
        return self.node("Add", [self.node("MatMul", [x, wq], f"{stem}_matmul"), bq], f"{stem}_bias")

    def activation(self, x: str, q: FixedQuantizer, rank: int, stem: str) -> str:
        return self.quant(self.node("Relu", [x], f"{stem}_relu"), q, rank, q.total_bits(), f"{stem}_act")


def export_hgq_deepset(model: HGQDeepSetTagger, path: str | Path) -> Path:
    """The trained deep set as a QONNX file: Quant nodes with per-element / per-channel
    power-of-two scales (weights and biases folded by the compiler), opset 13."""
    from onnx import TensorProto, helper
    from qonnx.util.basic import qonnx_make_model

    cfg = model.cfg
    model.eval()
    g = _GraphWriter()
    iq = model.input_quant
    h = g.quant("x", iq, 3, iq.total_bits(), "input")
    for i, block in enumerate(model.phi):
        h = g.activation(g.dense(h, block.dense, f"phi{i}"), block.act, 3, f"phi{i}")
    op = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax"}[cfg.pool]
    if op == "ReduceSum":  # opset 13 takes ReduceSum's axes as an input
        h = g.node(op, [h, g.const("pool_axes", [1], np.int64)], "pool", keepdims=0)
    else:
        h = g.node(op, [h], "pool", axes=[1], keepdims=0)
    pq = model.pool_quant
    h = g.quant(h, pq, 2, pq.total_bits(), "pool_q")
    for i, block in enumerate(model.rho):
        h = g.activation(g.dense(h, block.dense, f"rho{i}"), block.act, 2, f"rho{i}")
    g.dense(h, model.out, "out")
    g.nodes[-1].output[0] = "y"  # the logits: the last Add
    graph = helper.make_graph(
        g.nodes, "hgq_deepset",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cfg.n_constituents, cfg.n_features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cfg.n_classes])], initializer=g.inits)
    onnx_model = qonnx_make_model(graph, producer_name="l1forge-hgq", opset_imports=[
        helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
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
                "mean_activation_bits": float(np.mean(abits)) if abits else 0.0, "ebops": float(model.ebops()),
                "adders_lut_proxy": float(model.adders())}
