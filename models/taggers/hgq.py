"""Taggers trained with learnable bit widths (models.quantizers), the deep set, the MLP and the
interaction network: every weight (or every output channel's weights), every activation channel
and every input feature has its own power-of-two grid (deep sets with `hgq_per_particle`: every
particle slot of the pT-ordered input its own as well, as JEDI-linear's per-particle designs: soft
particles get fewer bits, at the price of permutation invariance). The loss adds beta times a
resource term: a proxy of the adder bits of the multiplierless adder trees (`adders`; 2-3.5x
da4ml's LUT estimate, before its sharing of common subexpressions) or HGQ's effective bit
operations (`ebops`), so training trades accuracy against multiplierless-adder cost. Exported by
l1forge's own QONNX writer (per-element / per-channel scales, one bit width per Quant), which the
RTL backend compiles bit-exact.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from l1forge.reference.ultrafast_jet_classification.models import incidence_matrices, pool_particles

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
        n_in = self.weight.shape[0]  # the MLP's first layer reads its (N, features) input flattened
        return dense_ebops(self.wq.bits_per_element(self.weight), x.bits_per_element().reshape(-1, n_in), copies)

    def adders(self, x: FixedQuantizer, copies: int) -> torch.Tensor:
        return dense_adder_cost(self.weight, self.wq, self.bias, self.bq, x.soft_frac(), x.max_seen, copies)


def _activation(cfg, shape: tuple[int, ...], signed: bool = False) -> FixedQuantizer:
    """An activation quantizer: a grid per element of `shape` (per channel, or per particle slot and
    channel), or one for the tensor (cfg.hgq_act_granularity layer: one ap_fixed cast)."""
    return FixedQuantizer(shape, INIT_ACT_FRAC, signed, "activation", cfg.hgq_rounding,
                          tied=cfg.hgq_act_granularity == "layer")


class _Block(nn.Module):
    """Dense -> ReLU -> unsigned activation quantizer (per channel, or per particle and channel)."""

    def __init__(self, n_in: int, n_out: int, cfg, slots: tuple[int, ...]):
        super().__init__()
        self.dense = HGQDense(n_in, n_out, cfg.hgq_granularity)
        self.act = _activation(cfg, (*slots, n_out))

    def forward(self, x):
        return self.act(torch.relu(self.dense(x)))


class _Concat:
    """The grids of quantized tensors concatenated along the channel axis (what a dense layer
    reads when its input is built from several quantizers' outputs), for the resource terms."""

    def __init__(self, *parts: FixedQuantizer):
        self.parts = parts

    @property
    def max_seen(self) -> torch.Tensor:
        return torch.cat([q.max_seen for q in self.parts], -1)

    def soft_frac(self) -> torch.Tensor:
        return torch.cat([q.soft_frac() for q in self.parts], -1)

    def bits_per_element(self) -> torch.Tensor:
        return torch.cat([q.bits_per_element() for q in self.parts], -1)


def _blocks(widths, cfg, slots: tuple[int, ...] = ()) -> nn.ModuleList:
    return nn.ModuleList(_Block(a, b, cfg, slots) for a, b in zip(widths, widths[1:]))


def _particle_sum(q: FixedQuantizer, n: int) -> torch.Tensor:
    """The adder proxy of summing q's output over n particles (n - 1 additions per channel)."""
    return sum_adder_cost(q.soft_frac().expand(n, -1), q.max_seen.expand(n, -1), q.signed)


class _HGQTagger(nn.Module):
    """What the three families share: the input quantizer (the input arrives quantized off chip,
    so rounding it costs no logic: half to even) and the resource terms, from each family's list of
    dense layers, sums over particles and requantized activations."""

    def __init__(self, cfg, input_shape: tuple[int, ...]):
        super().__init__()
        self.cfg = cfg
        self.input_quant = FixedQuantizer(input_shape, cfg.input_bits - cfg.input_int_bits, True, "activation",
                                          tied=cfg.hgq_act_granularity == "layer")

    def _layers(self):
        """(dense layer, the grids it reads, copies: how many times it is built in firmware)."""
        raise NotImplementedError

    def _sums(self) -> torch.Tensor:
        """The adder proxy of the sums over particles (pooling, aggregation)."""
        raise NotImplementedError

    def _requantized(self):
        """(activation quantizer, copies): each output bit costs about one LUT of saturation."""
        raise NotImplementedError

    def ebops(self) -> torch.Tensor:
        """Effective bit operations of every constant product (HGQ's resource term)."""
        return sum(dense.ebops(x, copies) for dense, x, copies in self._layers())

    def adders(self) -> torch.Tensor:
        """The adder proxy: adder trees of every layer, the sums over particles, and one bit per
        requantized activation bit (saturation)."""
        total = sum(dense.adders(x, copies) for dense, x, copies in self._layers()) + self._sums()
        return total + sum(copies * q.bits_per_element().sum() for q, copies in self._requantized())

    def resource_cost(self) -> torch.Tensor:
        """The term beta multiplies in the loss (cfg.hgq_cost)."""
        return self.adders() if self.cfg.hgq_cost == "adders" else self.ebops()

    def write(self, g: "_GraphWriter") -> None:
        """The model's nodes, from the input "x" to the logits (the last node)."""
        raise NotImplementedError



class HGQDeepSetTagger(_HGQTagger):
    """The deep set (phi per particle, pooling, rho, logits) with learnable grids everywhere; with
    cfg.hgq_per_particle the input and phi activations have grids per particle slot."""

    def __init__(self, cfg):
        slots = (cfg.n_constituents,) if cfg.hgq_per_particle else ()
        super().__init__(cfg, (*slots, cfg.n_features))
        self.phi = _blocks([cfg.n_features, *cfg.phi], cfg, slots)
        self.pool_quant = _activation(cfg, (cfg.phi[-1],))
        self.rho = _blocks([cfg.phi[-1], *cfg.rho], cfg)
        self.out = HGQDense(([cfg.phi[-1], *cfg.rho])[-1], cfg.n_classes, cfg.hgq_granularity)

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
        x = self.input_quant
        for block in self.phi:
            yield block.dense, x, self._phi_copies
            x = block.act
        x = self.pool_quant
        for block in self.rho:
            yield block.dense, x, 1
            x = block.act
        yield self.out, x, 1

    def _sums(self) -> torch.Tensor:
        return _particle_sum(self.phi[-1].act, self.cfg.n_constituents)

    def _requantized(self):
        yield from ((b.act, self._phi_copies) for b in self.phi)
        yield from ((b.act, 1) for b in self.rho)

    def write(self, g: "_GraphWriter") -> None:
        h = g.quant("x", self.input_quant, 3, self.input_quant.total_bits(), "input")
        h = g.mlp(h, self.phi, 3, "phi")
        h = g.pool(h, self.cfg.pool, self.pool_quant)
        g.dense(g.mlp(h, self.rho, 2, "rho"), self.out, "out")


class HGQMLPTagger(_HGQTagger):
    """The MLP on the pT-ordered constituents concatenated (N x features inputs), every input
    element on its own grid (JEDI-linear's per-particle idea in its plainest form)."""

    def __init__(self, cfg):
        super().__init__(cfg, (cfg.n_constituents, cfg.n_features))
        self.body = _blocks([cfg.n_constituents * cfg.n_features, *cfg.widths], cfg)
        self.out = HGQDense(cfg.widths[-1], cfg.n_classes, cfg.hgq_granularity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_quant(x).flatten(1)
        for block in self.body:
            h = block(h)
        return self.out(h)

    def _layers(self):
        x = self.input_quant
        for block in self.body:
            yield block.dense, x, 1
            x = block.act
        yield self.out, x, 1

    def _sums(self) -> torch.Tensor:
        return torch.zeros(())

    def _requantized(self):
        return ((b.act, 1) for b in self.body)

    def write(self, g: "_GraphWriter") -> None:
        cfg = self.cfg
        h = g.quant("x", self.input_quant, 3, self.input_quant.total_bits(), "input")
        h = g.node("Reshape", [h, g.const("flat_shape", [1, cfg.n_constituents * cfg.n_features], np.int64)],
                   "flatten")
        g.dense(g.mlp(h, self.body, 2, "dense"), self.out, "out")


class HGQInteractionNetTagger(_HGQTagger):
    """The interaction network (reference/'s InteractionNetTagger) with learnable grids: pairs of
    input-grid features (routing), the edge MLP once per ordered pair, edge outputs summed onto
    their receivers, [node, aggregated] requantized to one signed grid per channel, the node MLP
    per particle, pooling, the classifier and logits."""

    def __init__(self, cfg):
        super().__init__(cfg, (cfg.n_features,))
        f = cfg.n_features
        rr, rs = incidence_matrices(cfg.n_constituents)
        self.register_buffer("recv_t", rr.T.contiguous())
        self.register_buffer("send_t", rs.T.contiguous())
        self.register_buffer("recv", rr)
        self.edge = _blocks([2 * f, *cfg.effects], cfg)
        self.node_quant = _activation(cfg, (f + cfg.effects[-1],), signed=True)
        self.node = _blocks([f + cfg.effects[-1], *cfg.objects], cfg)
        self.pool_quant = _activation(cfg, (cfg.objects[-1],))
        self.classifier = _blocks([cfg.objects[-1], *cfg.classifier], cfg)
        self.out = HGQDense(([cfg.objects[-1], *cfg.classifier])[-1], cfg.n_classes, cfg.hgq_granularity)

    @property
    def _edges(self) -> int:
        return self.recv.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quant(x)
        h = torch.cat([self.recv_t @ x, self.send_t @ x], dim=-1)
        for block in self.edge:
            h = block(h)
        h = self.node_quant(torch.cat([x, self.recv @ h], dim=-1))
        for block in self.node:
            h = block(h)
        h = self.pool_quant(pool_particles(h, self.cfg.pool))
        for block in self.classifier:
            h = block(h)
        return self.out(h)

    def _layers(self):
        n = self.cfg.n_constituents
        x = _Concat(self.input_quant, self.input_quant)
        for block in self.edge:
            yield block.dense, x, self._edges
            x = block.act
        x = self.node_quant
        for block in self.node:
            yield block.dense, x, n
            x = block.act
        x = self.pool_quant
        for block in self.classifier:
            yield block.dense, x, 1
            x = block.act
        yield self.out, x, 1

    def _sums(self) -> torch.Tensor:
        n = self.cfg.n_constituents
        return n * _particle_sum(self.edge[-1].act, n - 1) + _particle_sum(self.node[-1].act, n)

    def _requantized(self):
        n = self.cfg.n_constituents
        yield from ((b.act, self._edges) for b in self.edge)
        yield self.node_quant, n
        yield from ((b.act, n) for b in self.node)
        yield from ((b.act, 1) for b in self.classifier)

    def write(self, g: "_GraphWriter") -> None:
        x = g.quant("x", self.input_quant, 3, self.input_quant.total_bits(), "input")
        pairs = [g.node("MatMul", [g.const(name, getattr(self, name).numpy()), x], f"pair_{name}")
                 for name in ("recv_t", "send_t")]
        h = g.mlp(g.node("Concat", pairs, "pairs", axis=2), self.edge, 3, "edge")
        h = g.node("Concat", [x, g.node("MatMul", [g.const("recv", self.recv.numpy()), h], "aggregate")],
                   "node_in", axis=2)
        h = g.quant(h, self.node_quant, 3, self.node_quant.total_bits(), "node_q")
        h = g.pool(g.mlp(h, self.node, 3, "node"), self.cfg.pool, self.pool_quant)
        g.dense(g.mlp(h, self.classifier, 2, "classifier"), self.out, "out")


HGQ_TAGGERS = {"deepsets": HGQDeepSetTagger, "mlp": HGQMLPTagger, "intnet": HGQInteractionNetTagger}


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
        scale = scale.reshape(-1)[:1] if q.tied else scale.reshape((1,) * (rank - scale.ndim) + scale.shape)
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

    def mlp(self, x: str, blocks, rank: int, stem: str) -> str:
        for i, block in enumerate(blocks):
            x = self.activation(self.dense(x, block.dense, f"{stem}{i}"), block.act, rank, f"{stem}{i}")
        return x

    def pool(self, x: str, how: str, q: FixedQuantizer) -> str:
        """Pooling over the particle axis (1), then q."""
        op = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax"}[how]
        if op == "ReduceSum":  # opset 13 takes ReduceSum's axes as an input
            x = self.node(op, [x, self.const("pool_axes", [1], np.int64)], "pool", keepdims=0)
        else:
            x = self.node(op, [x], "pool", axes=[1], keepdims=0)
        return self.quant(x, q, 2, q.total_bits(), "pool_q")


def export_hgq(model: _HGQTagger, path: str | Path) -> Path:
    """The trained model as a QONNX file: Quant nodes with per-element / per-channel power-of-two
    scales (weights and biases folded by the compiler), opset 13."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    cfg = model.cfg
    model.eval()
    g = _GraphWriter()
    model.write(g)
    g.nodes[-1].output[0] = "y"  # the logits
    graph = helper.make_graph(
        g.nodes, f"hgq_{cfg.model}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cfg.n_constituents, cfg.n_features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cfg.n_classes])], initializer=g.inits)
    onnx_model = qonnx_make_model(graph, producer_name="l1forge-hgq", opset_imports=[
        helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)])
    ModelWrapper(onnx_model).save(str(path))
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
