"""Brevitas QAT deep-set, interaction-network and MLP taggers with power-of-two scales and quantized biases, the form
l1forge compiles bit-exactly (FACTS.md: fixed-point quantizers, Int bias, explicit widths).

The input quantizer is the paper's ap_fixed<12,4> by default (constant scale 2**-8); weights,
biases and activations use learned power-of-two scales.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from l1forge.reference.ultrafast_jet_classification import PAPER_DEEPSET, PAPER_INTNET, PAPER_MLP, DeepSetTagger, \
    InteractionNetTagger, MLPTagger
from l1forge.reference.ultrafast_jet_classification.models import POOLS, incidence_matrices, pool_particles

MODELS = ("deepsets", "intnet", "mlp")


@dataclass
class TaggerConfig:
    model: str = "deepsets"  # deepsets | intnet | mlp
    n_constituents: int = 8
    n_features: int = 3
    pool: str = "mean"
    phi: tuple[int, ...] = PAPER_DEEPSET["phi"]
    rho: tuple[int, ...] = PAPER_DEEPSET["rho"]
    widths: tuple[int, ...] = PAPER_MLP["widths"]
    effects: tuple[int, ...] = PAPER_INTNET["effects"]
    objects: tuple[int, ...] = PAPER_INTNET["objects"]
    classifier: tuple[int, ...] = PAPER_INTNET["classifier"]
    w_bits: int = 8
    a_bits: int = 8
    input_bits: int = 12
    input_int_bits: int = 4  # ap_fixed<input_bits, input_int_bits>
    n_classes: int = 5
    # learnable bit widths (models.quantizers, HGQ): loss + beta * resource term (hgq_cost: the
    # adder-bit proxy of the adder trees, or EBOPs); weight grids per weight ("element") or per output channel
    # ("channel"); activation grids per channel, or per particle slot and channel (hgq_per_particle);
    # activations rounded by floor (free in firmware) or half to even
    hgq: bool = False
    beta: float = 0.0
    hgq_granularity: str = "element"
    hgq_cost: str = "adders"
    hgq_rounding: str = "floor"
    hgq_per_particle: bool = False
    hgq_act_granularity: str = "channel"  # or "layer": one grid per activation tensor (hls4ml can cast it)

    def __post_init__(self):
        for name in ("w_bits", "a_bits"):
            if not 2 <= getattr(self, name) <= 16:
                raise ValueError(f"{name} must be in 2..16, got {getattr(self, name)}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {self.pool!r}")
        for name in ("phi", "rho", "widths", "effects", "objects", "classifier"):
            setattr(self, name, tuple(getattr(self, name)))
        if self.model == "intnet" and (not self.effects or not self.objects):
            raise ValueError("the interaction network needs at least one effects and one objects layer")
        if self.hgq_granularity not in ("element", "channel"):
            raise ValueError(f"hgq granularity must be element or channel, got {self.hgq_granularity!r}")
        if self.hgq_cost not in ("adders", "ebops"):
            raise ValueError(f"hgq cost must be adders or ebops, got {self.hgq_cost!r}")
        if self.hgq_act_granularity not in ("channel", "layer"):
            raise ValueError(f"hgq activation granularity must be channel or layer, got {self.hgq_act_granularity!r}")
        if self.hgq_per_particle and self.hgq_act_granularity == "layer":
            raise ValueError("per-particle grids (--hgq-per-particle) need --hgq-act-granularity channel")
        if self.hgq_rounding not in ("floor", "even"):
            raise ValueError(f"hgq rounding must be floor or even, got {self.hgq_rounding!r}")
        if self.hgq_per_particle and not self.hgq:
            raise ValueError("per-particle grids (--hgq-per-particle) need --hgq")
        if self.hgq_per_particle and self.model != "deepsets":
            raise ValueError("per-particle grids (--hgq-per-particle) are for deep sets (the MLP has them by "
                             f"construction), not {self.model}")
        if self.beta < 0 or (self.beta > 0 and not self.hgq):
            raise ValueError(f"beta must be >= 0 and needs --hgq, got {self.beta:g}")

    def to_dict(self) -> dict:
        return asdict(self)


def _quantizers(cfg: TaggerConfig):
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias, \
        Uint8ActPerTensorFixedPoint

    class InputQuant(Int8ActPerTensorFixedPoint):
        """ap_fixed<input_bits, input_int_bits>: constant scale 2**-(bits - int)."""
        scaling_impl_type = ScalingImplType.CONST
        bit_width = cfg.input_bits
        max_val = 2.0 ** (cfg.input_int_bits - 1)
        min_val = -(2.0 ** (cfg.input_int_bits - 1))

    class Weight(Int8WeightPerTensorFixedPoint):
        bit_width = cfg.w_bits

    class Bias(Int16Bias):
        bit_width = min(32, cfg.w_bits + cfg.a_bits + 8)

    class Act(Uint8ActPerTensorFixedPoint):
        bit_width = cfg.a_bits

    return InputQuant, Weight, Bias, Act


def _signed_act(bits: int):
    from brevitas.quant import Int8ActPerTensorFixedPoint

    class SignedAct(Int8ActPerTensorFixedPoint):
        bit_width = bits

    return SignedAct


def _value(x):
    """The plain tensor of a QuantTensor (training) or a tensor (export)."""
    return x.value if hasattr(x, "value") else x


class _QuantMLP(nn.Module):
    def __init__(self, widths, n_in, q):
        from brevitas.nn import QuantLinear, QuantReLU

        super().__init__()
        _, weight, bias, act = q
        self.layers = nn.ModuleList()
        prev = n_in
        for w in widths:
            self.layers.append(QuantLinear(prev, w, bias=True, weight_quant=weight, bias_quant=bias,
                                           return_quant_tensor=True))
            self.layers.append(QuantReLU(act_quant=act, return_quant_tensor=True))
            prev = w

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class _QuantTagger(nn.Module):
    """What both taggers share: the input quantizer and the classifier head (logits, the
    accumulator itself, not requantized)."""

    def __init__(self, cfg: TaggerConfig):
        from brevitas.nn import QuantIdentity

        super().__init__()
        self.cfg = cfg
        self.quantizers = _quantizers(cfg)
        self.input_quant = QuantIdentity(act_quant=self.quantizers[0], return_quant_tensor=True)

    def _head(self, n_in: int):
        from brevitas.nn import QuantLinear

        _, weight, bias, _ = self.quantizers
        return QuantLinear(n_in, self.cfg.n_classes, bias=True, weight_quant=weight, bias_quant=bias,
                           return_quant_tensor=False)


class QuantDeepSetTagger(_QuantTagger):
    def __init__(self, cfg: TaggerConfig):
        from brevitas.nn import QuantIdentity

        super().__init__(cfg)
        self.phi = _QuantMLP(cfg.phi, cfg.n_features, self.quantizers)
        self.pool_quant = QuantIdentity(act_quant=self.quantizers[3], return_quant_tensor=True)
        self.rho = _QuantMLP(cfg.rho, cfg.phi[-1], self.quantizers)
        self.out = self._head(cfg.rho[-1] if cfg.rho else cfg.phi[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _value(self.phi(self.input_quant(x)))
        return self.out(self.rho(self.pool_quant(pool_particles(h, self.cfg.pool))))


class QuantMLPTagger(_QuantTagger):
    def __init__(self, cfg: TaggerConfig):
        from brevitas.nn import QuantIdentity

        super().__init__(cfg)
        # Same grid as the input (flattening moves no value): a no-op in the exported graph's
        # integers, it hands the first layer a QuantTensor for its bias quantizer.
        self.flat_quant = QuantIdentity(act_quant=self.quantizers[0], return_quant_tensor=True)
        self.body = _QuantMLP(cfg.widths, cfg.n_constituents * cfg.n_features, self.quantizers)
        self.out = self._head(cfg.widths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _value(self.input_quant(x)).flatten(1)
        return self.out(self.body(self.flat_quant(x)))


class QuantInteractionNetTagger(_QuantTagger):
    """The interaction network of reference/ (InteractionNetTagger) with QAT. Pairs are built and
    edge outputs aggregated with constant one-hot incidence matrices, the paper's formulation;
    l1forge's wiring pass turns those products into routing and adder trees.

    Quantizers: the pairs stay on the input grid (a no-op quantizer that hands the edge MLP a
    QuantTensor); [node, aggregated] is requantized to one signed grid of max(a_bits, input_bits)
    bits with a learned power-of-two scale."""

    def __init__(self, cfg: TaggerConfig):
        from brevitas.nn import QuantIdentity

        super().__init__(cfg)
        rr, rs = incidence_matrices(cfg.n_constituents)
        self.register_buffer("recv_t", rr.T.contiguous())
        self.register_buffer("send_t", rs.T.contiguous())
        self.register_buffer("recv", rr)
        self.pair_quant = QuantIdentity(act_quant=self.quantizers[0], return_quant_tensor=True)
        self.edge = _QuantMLP(cfg.effects, 2 * cfg.n_features, self.quantizers)
        self.node_quant = QuantIdentity(act_quant=_signed_act(max(cfg.a_bits, cfg.input_bits)),
                                        return_quant_tensor=True)
        self.node = _QuantMLP(cfg.objects, cfg.n_features + cfg.effects[-1], self.quantizers)
        self.pool_quant = QuantIdentity(act_quant=self.quantizers[3], return_quant_tensor=True)
        self.classifier = _QuantMLP(cfg.classifier, cfg.objects[-1], self.quantizers)
        self.out = self._head(cfg.classifier[-1] if cfg.classifier else cfg.objects[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _value(self.input_quant(x))
        pairs = torch.cat([self.recv_t @ x, self.send_t @ x], dim=-1)
        aggregated = self.recv @ _value(self.edge(self.pair_quant(pairs)))
        nodes = _value(self.node(self.node_quant(torch.cat([x, aggregated], dim=-1))))
        return self.out(self.classifier(self.pool_quant(pool_particles(nodes, self.cfg.pool))))


def build_tagger(cfg: TaggerConfig) -> nn.Module:
    if cfg.hgq:
        from .hgq import HGQ_TAGGERS

        return HGQ_TAGGERS[cfg.model](cfg)
    return {"deepsets": QuantDeepSetTagger, "intnet": QuantInteractionNetTagger, "mlp": QuantMLPTagger}[cfg.model](cfg)


def float_twin(cfg: TaggerConfig) -> nn.Module:
    """The full-precision model of the same architecture (reference/)."""
    if cfg.model == "deepsets":
        return DeepSetTagger(cfg.n_features, cfg.phi, cfg.rho, cfg.pool, cfg.n_classes)
    if cfg.model == "intnet":
        return InteractionNetTagger(cfg.n_constituents, cfg.n_features, cfg.effects, cfg.objects, cfg.classifier,
                                    cfg.pool, cfg.n_classes)
    return MLPTagger(cfg.n_constituents, cfg.n_features, cfg.widths, cfg.n_classes)
