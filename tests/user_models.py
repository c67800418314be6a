"""Models written the way users write them, not the way l1forge's zoo does."""
import torch
from torch import nn


class ChannelsFirstConvDeepSet(nn.Module):
    """A deep set with Conv1d(kernel 1) phi layers on (batch, features, particles) and adaptive
    average pooling: exported as Conv + GlobalAveragePool (TorchScript) or
    Conv + Unsqueeze/ReduceMean/Squeeze (dynamo)."""

    def __init__(self, n_features: int = 3, width: int = 16, n_classes: int = 5):
        from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear, QuantReLU
        from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias, \
            Uint8ActPerTensorFixedPoint

        super().__init__()
        w, b, a = Int8WeightPerTensorFixedPoint, Int16Bias, Uint8ActPerTensorFixedPoint
        self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.c1 = QuantConv1d(n_features, width, 1, weight_quant=w, bias_quant=b, return_quant_tensor=True)
        self.r1 = QuantReLU(act_quant=a, return_quant_tensor=True)
        self.c2 = QuantConv1d(width, width, 1, weight_quant=w, bias_quant=b, return_quant_tensor=True)
        self.r2 = QuantReLU(act_quant=a, return_quant_tensor=True)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.pool_quant = QuantIdentity(act_quant=a, return_quant_tensor=True)
        self.out = QuantLinear(width, n_classes, weight_quant=w, bias_quant=b)

    def forward(self, x):  # x: (batch, particles, features)
        h = self.r2(self.c2(self.r1(self.c1(self.inp(x.transpose(1, 2))))))
        h = h.value if hasattr(h, "value") else h
        return self.out(self.pool_quant(self.pool(h).flatten(1)))


def calibrated(model: nn.Module, example_shape, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model.train()
    model(torch.randn(256, *example_shape) * 1.5)
    return model.eval()


def _in_quantizers():
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias, \
        Uint8ActPerTensorFixedPoint

    return Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias, Uint8ActPerTensorFixedPoint


def _value(t):
    return t.value if hasattr(t, "value") else t


class _UserInteractionNet(nn.Module):
    """What both user-style interaction networks share: quantizers and layers; `layer(n_in,
    n_out)` makes a per-edge / per-node Dense (QuantLinear or kernel-1 QuantConv1d)."""

    def __init__(self, layer, n_features: int, de: int, do: int, n_classes: int):
        from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU

        super().__init__()
        sig, w, b, a = _in_quantizers()
        self.inp = QuantIdentity(act_quant=sig, return_quant_tensor=True)
        self.pair_quant = QuantIdentity(act_quant=sig, return_quant_tensor=True)
        self.e1 = layer(2 * n_features, de, weight_quant=w, bias_quant=b, return_quant_tensor=True)
        self.er = QuantReLU(act_quant=a, return_quant_tensor=True)
        self.node_quant = QuantIdentity(act_quant=sig, return_quant_tensor=True)
        self.o1 = layer(n_features + de, do, weight_quant=w, bias_quant=b, return_quant_tensor=True)
        self.orelu = QuantReLU(act_quant=a, return_quant_tensor=True)
        self.pool_quant = QuantIdentity(act_quant=a, return_quant_tensor=True)
        self.out = QuantLinear(do, n_classes, weight_quant=w, bias_quant=b)


class ChannelsFirstInteractionNet(_UserInteractionNet):
    """The JEDI-net formulation: x as (batch, features, particles), pairs as x @ R_r and x @ R_s
    (the one-hot constants on the right), Conv1d(kernel 1) edge and node MLPs, aggregation as
    E @ R_r^T, concatenation along channels, adaptive average pooling over particles."""

    def __init__(self, n: int = 8, n_features: int = 3, de: int = 4, do: int = 6, n_classes: int = 5):
        from brevitas.nn import QuantConv1d

        from l1forge.reference.ultrafast_jet_classification.models import incidence_matrices

        super().__init__(lambda n_in, n_out, **q: QuantConv1d(n_in, n_out, 1, **q), n_features, de, do, n_classes)
        rr, rs = incidence_matrices(n)
        self.register_buffer("rr", rr)
        self.register_buffer("rs", rs)
        self.register_buffer("rr_t", rr.T.contiguous())
        self.pool = nn.AdaptiveAvgPool1d(1)

    def forward(self, x):  # x: (batch, particles, features)
        xt = _value(self.inp(x.transpose(1, 2)))  # (B, F, N)
        pairs = torch.cat([xt @ self.rr, xt @ self.rs], dim=1)  # (B, 2F, E)
        effects = _value(self.er(self.e1(self.pair_quant(pairs))))  # (B, De, E)
        nodes = torch.cat([xt, effects @ self.rr_t], dim=1)  # (B, F + De, N)
        h = _value(self.orelu(self.o1(self.node_quant(nodes))))
        return self.out(self.pool_quant(self.pool(h).flatten(1)))


class IndexedInteractionNet(_UserInteractionNet):
    """Pairs by indexing (x[:, recv], x[:, send]: Gather) and aggregation by reshaping the
    receiver-major edges to (batch, N, N-1, De) and summing (Reshape + ReduceSum)."""

    def __init__(self, n: int = 8, n_features: int = 3, de: int = 4, do: int = 6, n_classes: int = 5):
        from brevitas.nn import QuantLinear

        from l1forge.reference.ultrafast_jet_classification.models import edge_pairs

        super().__init__(QuantLinear, n_features, de, do, n_classes)
        recv, send = edge_pairs(n)
        self.register_buffer("recv", recv)
        self.register_buffer("send", send)
        self.n = n

    def forward(self, x):
        x = _value(self.inp(x))
        pairs = torch.cat([x[:, self.recv], x[:, self.send]], dim=-1)
        effects = _value(self.er(self.e1(self.pair_quant(pairs))))
        aggregated = effects.reshape(effects.shape[0], self.n, self.n - 1, -1).sum(dim=2)
        h = _value(self.orelu(self.o1(self.node_quant(torch.cat([x, aggregated], dim=-1)))))
        return self.out(self.pool_quant(h.sum(dim=1)))


class PerChannelDeepSet(nn.Module):
    """A deep set whose weights and hidden activation have one power-of-two scale per channel
    (Brevitas' per-channel fixed-point quantizers), mean pooling, per-channel output layer."""

    def __init__(self, n: int = 8, n_features: int = 3, width: int = 6, n_classes: int = 5):
        from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
        from brevitas.quant.fixed_point import Int8ActPerTensorFixedPoint, Int8WeightPerChannelFixedPoint, \
            Uint8ActPerTensorFixedPoint

        class PerChannelAct(Uint8ActPerTensorFixedPoint):
            scaling_per_output_channel = True
            per_channel_broadcastable_shape = (1, 1, width)
            scaling_stats_permute_dims = (2, 0, 1)

        super().__init__()
        self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.phi = QuantLinear(n_features, width, bias=True, weight_quant=Int8WeightPerChannelFixedPoint)
        self.act = QuantReLU(act_quant=PerChannelAct, return_quant_tensor=True)
        self.out = QuantLinear(width, n_classes, bias=True, weight_quant=Int8WeightPerChannelFixedPoint)

    def forward(self, x):  # x: (batch, particles, features)
        return self.out(_value(self.act(self.phi(self.inp(x))))).mean(1)
