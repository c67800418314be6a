"""The fuzzer's grammar: random quantized architectures drawn as small JSON-able specs (Case) and
built as Brevitas modules the way users write them.

Families: an MLP on a flat vector, a deep set (per-particle layers, mean / sum / max pooling over
N particles, power-of-two or not, with or without a quantizer after the pooling) and an
interaction network (pairs by indexing, edge layer, sum aggregation, concatenation with the
nodes, node layer, pooling). Every layer draws its width (1-64), weight bits (2-16, narrow or
not, per tensor or per channel), activation bits (1-16 unsigned after a ReLU, 2-16 signed
otherwise), the rounding mode of its activation quantizer (Brevitas' float_to_int_impl_type:
ROUND, FLOOR, CEIL, ROUND_TO_ZERO), a bias (16-bit quantized) or none; a layer may add a residual
connection; weights may be extreme (all zero, all saturating).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

FAMILIES = ("mlp", "deepset", "intnet")
POOLS = ("mean", "sum", "max")
ROUNDINGS = ("ROUND", "FLOOR", "CEIL", "ROUND_TO_ZERO")
EXTREMES = ("none", "zero", "saturate")


@dataclass
class Layer:
    width: int
    w_bits: int
    a_bits: int
    relu: bool = True
    rounding: str = "ROUND"
    narrow: bool = False
    per_channel: bool = False
    bias: bool = True
    residual: bool = False  # add the layer's input back (same width), then requantize


@dataclass
class Case:
    seed: int
    family: str
    n: int  # particles (deep set, interaction network); 1 for an MLP
    f: int  # features per particle (the MLP's input width)
    in_bits: int
    phi: list[Layer] = field(default_factory=list)  # per particle (MLP: all layers)
    pool: str = "sum"
    pool_quant: bool = True
    rho: list[Layer] = field(default_factory=list)  # after pooling
    out: int = 3
    extreme: str = "none"
    dynamo: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Case":
        data = json.loads(text)
        for key in ("phi", "rho"):
            data[key] = [Layer(**layer) for layer in data[key]]
        return cls(**data)

    @property
    def label(self) -> str:
        pool = f"/{self.pool}{self.n}" if self.family != "mlp" else ""
        return f"{self.family}{pool}-{len(self.phi)}+{len(self.rho)}"


def _layer(rng: np.random.Generator, width_in: int) -> Layer:
    width = int(rng.choice([1, 2, 3, 4, 5, 8, 16, 33, 64], p=[.05, .1, .1, .15, .15, .2, .15, .05, .05]))
    relu = bool(rng.random() < 0.7)
    return Layer(width=width, w_bits=int(rng.choice([2, 3, 4, 6, 8, 12, 16], p=[.1, .15, .2, .2, .2, .1, .05])),
                 a_bits=int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16], p=[.05, .05, .1, .2, .2, .25, .1, .05]))
                 if relu else int(rng.choice([2, 4, 6, 8, 12, 16])),
                 relu=relu, rounding=str(rng.choice(ROUNDINGS, p=[.7, .1, .1, .1])), narrow=bool(rng.random() < .3),
                 per_channel=bool(rng.random() < .2), bias=bool(rng.random() < .8),
                 residual=bool(width == width_in and rng.random() < .4))


def draw(seed: int) -> Case:
    """One random case; the same seed always gives the same case."""
    rng = np.random.default_rng(seed)
    family = str(rng.choice(FAMILIES, p=[.35, .45, .2]))
    if family == "mlp":
        n, f = 1, int(rng.choice([1, 3, 8, 16]))
    elif family == "deepset":
        n, f = int(rng.choice([2, 3, 4, 5, 6, 8, 12, 16, 30])), int(rng.choice([1, 3, 4]))
    else:
        n, f = int(rng.choice([3, 4, 6, 8])), int(rng.choice([2, 3]))
    case = Case(seed=seed, family=family, n=n, f=f, in_bits=int(rng.choice([2, 4, 6, 8, 10, 12, 16])),
                pool=str(rng.choice(POOLS)), pool_quant=bool(rng.random() < .85), out=int(rng.choice([1, 3, 5])),
                extreme=str(rng.choice(EXTREMES, p=[.85, .075, .075])), dynamo=bool(rng.random() < .1))
    width = f
    for _ in range(int(rng.integers(1, 4))):
        case.phi.append(_layer(rng, width))
        width = case.phi[-1].width
    if family != "mlp":
        for _ in range(int(rng.integers(0, 3))):
            case.rho.append(_layer(rng, width))
            width = case.rho[-1].width
    return case


def _act(bits: int, relu: bool, rounding: str):
    from brevitas.nn import QuantIdentity, QuantReLU
    from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

    if relu:
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=bits, float_to_int_impl_type=rounding,
                         return_quant_tensor=True)
    return QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=bits, float_to_int_impl_type=rounding,
                         return_quant_tensor=True)


def _linear(n_in: int, layer: Layer, out_quant: bool = True):
    from brevitas.nn import QuantLinear
    from brevitas.quant import Int16Bias
    from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint, Int8WeightPerTensorFixedPoint

    weight = Int8WeightPerChannelFixedPoint if layer.per_channel else Int8WeightPerTensorFixedPoint
    return QuantLinear(n_in, layer.width, bias=layer.bias, weight_quant=weight, weight_bit_width=layer.w_bits,
                       weight_narrow_range=layer.narrow, bias_quant=Int16Bias if layer.bias else None,
                       return_quant_tensor=out_quant)


def _value(t):
    return t.value if hasattr(t, "value") else t


class _Stack(nn.Module):
    """Layers applied in turn: Linear -> activation quantizer, a residual add requantized."""

    def __init__(self, n_in: int, layers: list[Layer], quantized_input: bool = True):
        from brevitas.nn import QuantIdentity
        from brevitas.quant import Int8ActPerTensorFixedPoint

        super().__init__()
        self.linears, self.acts, self.requants = nn.ModuleList(), nn.ModuleList(), nn.ModuleDict()
        self.residual = []
        for i, layer in enumerate(layers):
            if i == 0 and not quantized_input:  # a quantized bias needs the input's scale
                layer = replace(layer, bias=False)
            self.linears.append(_linear(n_in, layer))
            self.acts.append(_act(layer.a_bits, layer.relu, layer.rounding))
            self.residual.append(layer.residual and layer.width == n_in)
            if self.residual[-1]:
                self.requants[str(i)] = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint,
                                                      bit_width=max(layer.a_bits, 2) + 1, return_quant_tensor=True)
            n_in = layer.width

    def forward(self, h):
        for i, (linear, act) in enumerate(zip(self.linears, self.acts)):
            out = act(linear(h))
            if self.residual[i]:
                out = self.requants[str(i)](_value(out) + _value(h))
            h = out
        return h


class FuzzModel(nn.Module):
    """The Brevitas module of a Case (see the module docstring)."""

    def __init__(self, case: Case):
        from brevitas.nn import QuantIdentity
        from brevitas.quant import Int8ActPerTensorFixedPoint

        super().__init__()
        self.case = case
        self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=case.in_bits, return_quant_tensor=True)
        width = case.f
        if case.family == "intnet":
            from l1forge.reference.ultrafast_jet_classification.models import edge_pairs

            recv, send = edge_pairs(case.n)
            self.register_buffer("recv", recv)
            self.register_buffer("send", send)
            edge = Layer(width=4, w_bits=6, a_bits=6)
            self.pair_quant = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True)
            self.edges = _Stack(2 * width, [edge])
            self.node_quant = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True)
            width += edge.width
        self.phi = _Stack(width, case.phi)
        width = case.phi[-1].width if case.phi else width
        if case.family != "mlp" and case.pool_quant:
            self.pool_quant = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=8, return_quant_tensor=True)
        self.rho = _Stack(width, case.rho, quantized_input=case.family == "mlp" or case.pool_quant)
        width = case.rho[-1].width if case.rho else width
        quantized = case.family == "mlp" or case.pool_quant or bool(case.rho)
        self.out = _linear(width, Layer(width=case.out, w_bits=8, a_bits=8, bias=quantized), out_quant=False)

    def forward(self, x):
        h = self.inp(x)
        if self.case.family == "intnet":
            v = _value(h)
            pairs = self.pair_quant(torch.cat([v[:, self.recv], v[:, self.send]], dim=-1))
            effects = _value(self.edges(pairs))
            aggregated = effects.reshape(effects.shape[0], self.case.n, self.case.n - 1, -1).sum(dim=2)
            h = self.node_quant(torch.cat([v, aggregated], dim=-1))
        h = self.phi(h)
        if self.case.family != "mlp":
            v = _value(h)
            v = {"mean": v.mean(dim=1), "sum": v.sum(dim=1), "max": v.max(dim=1).values}[self.case.pool]
            h = self.pool_quant(v) if self.case.pool_quant else v
        return self.out(self.rho(h))


def input_shape(case: Case) -> tuple[int, ...]:
    return (case.f,) if case.family == "mlp" else (case.n, case.f)


def build(case: Case) -> nn.Module:
    """The calibrated Brevitas module of a case (weights drawn from its seed, extremes applied)."""
    torch.manual_seed(case.seed)
    model = FuzzModel(case)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "weight") and isinstance(getattr(module, "weight"), torch.Tensor) \
                    and module.weight is not None and module.weight.dim() == 2:
                if case.extreme == "zero":
                    module.weight.zero_()
                elif case.extreme == "saturate":
                    module.weight.copy_(torch.sign(torch.randn_like(module.weight)) * 1e3)
    model.train()
    model(torch.randn(256, *input_shape(case)) * 1.5)
    return model.eval()
