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
