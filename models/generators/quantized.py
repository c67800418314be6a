"""What the quantized generators share: their settings, Brevitas fixed-point quantizers (every
scale a power of two, as the compiler requires) and the quantization-aware fine-tuning loop that
makes a quantized network reproduce its float original."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from l1forge.compiler.errors import L1ForgeError


@dataclass(frozen=True)
class GeneratorSettings:
    w_bits: int = 8
    a_bits: int = 10
    table_bits: int = 8  # the inputs of the function tables (tables of 2**bits entries)
    input_bits: int = 8
    steps: int = 3000
    batch: int = 4096
    lr: float = 1e-3
    seed: int = 0

    def check(self) -> None:
        for name in ("w_bits", "a_bits", "input_bits"):
            if not 2 <= getattr(self, name) <= 16:
                raise L1ForgeError(f"--{name.replace('_', '-')} must be in 2..16, got {getattr(self, name)}")
        if not 2 <= self.table_bits <= 12:
            raise L1ForgeError(f"--table-bits must be in 2..12 (tables of 2**bits entries), got {self.table_bits}")


def fixed_point_quantizers(s: GeneratorSettings, input_range: float) -> dict:
    """Brevitas quantizer classes by role: input (signed, constant range +-input_range), weight,
    bias, act (signed, learned power-of-two range), table_in (signed), gate (unsigned on [0, 1)),
    unsigned (a_bits, learned range); signed_const(bits, max) makes a signed one of constant range."""
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias, \
        Uint8ActPerTensorFixedPoint

    def signed(bits, const_max=None):
        attrs = {"bit_width": bits}
        if const_max is not None:
            attrs.update(scaling_impl_type=ScalingImplType.CONST, max_val=const_max, min_val=-const_max)
        return type(f"Signed{bits}", (Int8ActPerTensorFixedPoint,), attrs)

    weight = type("Weight", (Int8WeightPerTensorFixedPoint,), {"bit_width": s.w_bits})
    bias = type("Bias", (Int16Bias,), {"bit_width": min(32, s.w_bits + s.a_bits + 8)})
    gate = type("Gate", (Uint8ActPerTensorFixedPoint,), {"bit_width": s.table_bits, "scaling_impl_type":
                                                         ScalingImplType.CONST, "max_val": 1.0})
    return {"input": signed(s.input_bits, input_range), "weight": weight, "bias": bias, "act": signed(s.a_bits),
            "table_in": signed(s.table_bits), "gate": gate,
            "unsigned": type("Unsigned", (Uint8ActPerTensorFixedPoint,), {"bit_width": s.a_bits}),
            "signed_const": signed}


def finetune(qmodel: torch.nn.Module, batch, settings: GeneratorSettings, progress=None, after_step=None) -> list[float]:
    """Adam with a cosine schedule on the MSE of qmodel(x) to the target, (x, target) = batch(n);
    the model is left in eval mode. Returns the loss curve in about 50 averaged points."""
    opt = torch.optim.Adam(qmodel.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.steps)
    qmodel.train()
    curve = []
    for step in range(settings.steps):
        x, target = batch(settings.batch)
        loss = F.mse_loss(qmodel(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if after_step is not None:
            after_step()
        curve.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, settings.steps, curve[-1])
    qmodel.eval()
    every = max(1, len(curve) // 50)
    return [float(np.mean(curve[i:i + every])) for i in range(0, len(curve), every)]
