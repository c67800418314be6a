"""Fixed-point quantizers with learnable bit widths (High Granularity Quantization, arXiv 2405.00645,
written from the published method).

A quantizer holds real-valued fractional bits f, one per element or per channel (its `shape`,
broadcast over the tensor). Forward: each value is rounded half to even on its grid 2**-round(f)
and saturated to a range of `bits` total bits, exactly as the QONNX Quant it exports to computes
(per-channel power-of-two scale, one scalar bit width). Gradients:
- the value: straight through the rounding (identity inside the range, zero where saturated);
- f: the rounding error delta scales as 2**-f, so d(delta)/df = -ln 2 * delta (the paper's
  surrogate), which lets the task loss ask for more bits where the error hurts;
- the resource term (EBOPs, `bits_per_element`) pulls f down; a weight whose bits reach zero
  rounds to zero: pruning falls out.
The range (hence the integer bits) comes from the current weights, or for activations from the
largest magnitude seen in training per channel (a buffer, frozen in eval), rounded on the grid.
"""
from __future__ import annotations

import torch
from torch import nn

MAX_BITS = 24  # l1forge's activation quantizers are exact up to 24 bits (qonnx computes Quant in float32)


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class FixedQuantizer(nn.Module):
    """Round-half-even fixed-point quantizer with learnable fractional bits of shape `shape`."""

    def __init__(self, shape: tuple[int, ...], init_frac: float, signed: bool, kind: str):
        super().__init__()
        if kind not in ("weight", "activation"):
            raise ValueError(f"kind must be weight or activation, got {kind!r}")
        self.frac = nn.Parameter(torch.full(shape, float(init_frac)))
        self.signed, self.kind = signed, kind
        self.register_buffer("max_seen", torch.zeros(shape))  # activations: per-channel range

    def frac_bits(self) -> torch.Tensor:
        """The integer fractional bits in use (detached)."""
        return torch.round(self.frac.detach())

    def _reduce_to_shape(self, x: torch.Tensor) -> torch.Tensor:
        """max |x| over the axes that `frac` broadcasts along."""
        m = x.detach().abs()
        lead = m.ndim - self.frac.ndim
        m = m.amax(dim=tuple(range(lead))) if lead > 0 else m
        dims = tuple(i for i, s in enumerate(self.frac.shape) if s == 1 and m.shape[i] != 1)
        return m.amax(dim=dims, keepdim=True) if dims else m

    def mantissa_bits(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Bits of the largest mantissa per quantizer element (sign excluded; 0 where everything
        rounds to zero): of x's values for weights, of the largest magnitude seen for activations,
        on the current grids. Rounding up is counted (0.99 on 2**0 is 1: one bit)."""
        m = self._reduce_to_shape(x) if self.kind == "weight" else self.max_seen
        return torch.ceil(torch.log2(torch.round(m * torch.exp2(self.frac_bits())) + 1))

    def total_bits(self, x: torch.Tensor | None = None) -> int:
        """The one bit width of the exported Quant: enough for every element's range at its grid."""
        need = self.mantissa_bits(x).max().item() + int(self.signed)
        return int(min(MAX_BITS, max(1, need)))

    def bounds(self, bits: int) -> tuple[float, float]:
        if self.signed:
            return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
        return 0.0, 2.0 ** bits - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "activation" and self.training:
            with torch.no_grad():
                self.max_seen.copy_(torch.maximum(self.max_seen, self._reduce_to_shape(x)))
        f_int = _round_ste(self.frac)
        scale = torch.exp2(f_int.detach())
        lo, hi = self.bounds(self.total_bits(x))
        mantissa = torch.clamp(torch.round(x.detach() * scale), lo, hi)
        q = mantissa / scale
        if not self.training:
            return q  # exactly the exported Quant
        inside = ((x.detach() * scale >= lo - 0.5) & (x.detach() * scale <= hi + 0.5)).to(x.dtype)
        error = (q - x.detach()).detach()
        # value: straight through inside the range; f: d(error)/df = -ln2 * error
        return x * inside + (q - x * inside).detach() + error * (torch.exp2(self.frac.detach() - self.frac) - 1)

    def bits_per_element(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Differentiable bit count per quantizer element: the mantissa bits (with the sign bit)
        where anything is left, with gradient 1 in f there; 0 where everything rounds to zero."""
        exact = self.mantissa_bits(x)
        live = (exact > 0).to(exact.dtype)
        return live * (exact + (self.frac - self.frac.detach()) + float(self.signed))

    def scale_array(self) -> torch.Tensor:
        """Per element of `shape`: 2**-f, the exported Quant's scale."""
        return torch.exp2(-self.frac_bits())


def dense_ebops(weight_bits: torch.Tensor, input_bits: torch.Tensor, copies: int = 1) -> torch.Tensor:
    """Effective bit operations of x @ W: sum over (i, j) of bits(W_ij) * bits(x_i), times the
    number of parallel copies (a per-particle layer is built once per particle)."""
    return copies * (input_bits.reshape(-1, 1) * weight_bits).sum()
