"""Fixed-point quantizers with learnable bit widths (High Granularity Quantization, arXiv 2405.00645,
written from the published method), and the resource terms a loss can add.

A quantizer holds real-valued fractional bits f, one per element or per channel (its `shape`,
broadcast over the tensor). Forward: each value is rounded (half to even, or floor: free in
firmware, where rounding half to even costs an adder per value) on its grid 2**-round(f) and
saturated to a range of `bits` total bits, exactly as the QONNX Quant it exports to computes
(per-channel power-of-two scale, one scalar bit width). Gradients:
- the value: straight through the rounding (identity inside the range, zero where saturated);
- f: the rounding error delta scales as 2**-f, so d(delta)/df = -ln 2 * delta (the paper's
  surrogate), which lets the task loss ask for more bits where the error hurts;
- the resource term (EBOPs, `bits_per_element`) pulls f down; a weight whose bits reach zero
  rounds to zero: pruning falls out.
The range (hence the integer bits) comes from the current weights, or for activations from the
largest magnitude seen in training per channel (a buffer, frozen in eval), rounded on the grid.
Unsigned activations saturate per channel at their own range (the export adds a Min with the
per-channel bounds after the Quant, whose one bit width covers the widest channel).
"""
from __future__ import annotations

import torch
from torch import nn

MAX_BITS = 24  # l1forge's activation quantizers are exact up to 24 bits (qonnx computes Quant in float32)
ROUNDINGS = {"even": ("ROUND", torch.round), "floor": ("FLOOR", torch.floor)}  # name -> (QONNX mode, torch op)


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class FixedQuantizer(nn.Module):
    """Fixed-point quantizer with learnable fractional bits of shape `shape`, rounding half to even
    or by floor."""

    def __init__(self, shape: tuple[int, ...], init_frac: float, signed: bool, kind: str, rounding: str = "even",
                 tied: bool = False):
        super().__init__()
        if kind not in ("weight", "activation"):
            raise ValueError(f"kind must be weight or activation, got {kind!r}")
        if rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {', '.join(ROUNDINGS)}, got {rounding!r}")
        self.shape, self.tied = tuple(shape), tied
        # tied: one grid for the whole tensor, saturating at its one bit width (one ap_fixed cast)
        self.frac = nn.Parameter(torch.full((1,) * len(shape) if tied else shape, float(init_frac)))
        self.signed, self.kind, self.rounding = signed, kind, rounding
        self.qonnx_rounding, self._round = ROUNDINGS[rounding]
        self.register_buffer("max_seen", torch.zeros(shape))  # activations: per-channel range

    def frac_bits(self) -> torch.Tensor:
        """The integer fractional bits in use per element of `shape` (detached)."""
        return torch.round(self.frac.detach()).expand(self.shape)

    def _reduce_to_shape(self, x: torch.Tensor) -> torch.Tensor:
        """max |x| over the axes that `shape` broadcasts along."""
        m = x.detach().abs()
        lead = m.ndim - len(self.shape)
        m = m.amax(dim=tuple(range(lead))) if lead > 0 else m
        dims = tuple(i for i, s in enumerate(self.shape) if s == 1 and m.shape[i] != 1)
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

    @staticmethod
    def _saturate(mantissa: torch.Tensor, lo: float, hi: float, top: torch.Tensor | None) -> torch.Tensor:
        m = torch.clamp(mantissa, lo, hi)
        return m if top is None else torch.minimum(m, top)

    def channel_top(self) -> torch.Tensor | None:
        """Unsigned activations: the largest mantissa per element of `shape` (its own range);
        None for quantizers saturating at their one bit width."""
        if self.signed or self.kind != "activation" or self.tied:
            return None
        return torch.exp2(self.mantissa_bits()) - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "activation" and self.training:
            with torch.no_grad():
                self.max_seen.copy_(torch.maximum(self.max_seen, self._reduce_to_shape(x)))
        f_int = _round_ste(self.frac)
        scale = torch.exp2(f_int.detach())
        lo, hi = self.bounds(self.total_bits(x))
        top = self.channel_top()  # within the one bit width's range by construction
        mantissa = self._saturate(self._round(x.detach() * scale), lo, hi, top)
        hi = hi if top is None else top
        q = mantissa / scale
        if not self.training:
            return q  # exactly the exported Quant
        below, above = (0.0, 1.0) if self.rounding == "floor" else (0.5, 0.5)  # what still rounds into range
        inside = ((x.detach() * scale >= lo - below) & (x.detach() * scale < hi + above)).to(x.dtype)
        error = (q - x.detach()).detach()
        # value: straight through inside the range; f: d(error)/df = -ln2 * error
        return x * inside + (q - x * inside).detach() + error * (torch.exp2(self.frac.detach() - self.frac) - 1)

    def bits_per_element(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Differentiable bit count per quantizer element: the mantissa bits (with the sign bit)
        where anything is left, with gradient 1 in f there; 0 where everything rounds to zero."""
        exact = self.mantissa_bits(x)
        live = (exact > 0).to(exact.dtype)
        return live * (exact + (self.frac - self.frac.detach()) + float(self.signed))

    def grid_values(self, x: torch.Tensor) -> torch.Tensor:
        """x on its grids, saturated (what the exported Quant gives), without gradient."""
        with torch.no_grad():
            scale = torch.exp2(self.frac_bits())
            return self._saturate(self._round(x * scale), *self.bounds(self.total_bits(x)), self.channel_top()) / scale

    def soft_frac(self) -> torch.Tensor:
        """The fractional bits in use per element of `shape`, with gradient 1 in f (straight through
        the rounding)."""
        return _round_ste(self.frac).expand(self.shape)

    def scale_array(self) -> torch.Tensor:
        """Per element of `shape`: 2**-f, the exported Quant's scale."""
        return torch.exp2(-self.frac_bits())


def dense_ebops(weight_bits: torch.Tensor, input_bits: torch.Tensor, copies: int = 1) -> torch.Tensor:
    """Effective bit operations of x @ W: sum over (p, i, j) of bits(W_ij) * bits(x_pi), times the
    number of parallel copies (a per-particle layer with shared grids is built once per particle).
    input_bits: [n_in] or [P, n_in] (P particles with their own activation grids)."""
    n_in = input_bits.shape[-1]
    return copies * (input_bits.reshape(-1, n_in).sum(0) @ weight_bits.expand(n_in, -1)).sum()


def _width(bound: torch.Tensor, frac: torch.Tensor, signed: bool) -> torch.Tensor:
    """Bits of a fixed-point value with magnitude <= bound (detached) on grid 2**-frac (soft)."""
    msb = torch.ceil(torch.log2(bound.detach() + 1e-12))
    return torch.clamp(msb + frac + float(signed), min=1.0)


def dense_adder_cost(weight: torch.Tensor, wq: FixedQuantizer, bias: torch.Tensor, bq: FixedQuantizer,
                     x_frac: torch.Tensor, x_max: torch.Tensor, copies: int = 1) -> torch.Tensor:
    """A differentiable proxy of the adder bits of x @ W + b built as a multiplierless adder tree
    (da4ml): each output j adds one shifted copy of x_i per nonzero digit of W_ij (and its bias),
    every addition as wide as the accumulator, whose width is its range (detached bound from the
    inputs' ranges and the constants) plus its finest fractional bit (the finest live term:
    frac(x_i) + frac(W_ij)). Unlike EBOPs this charges a tiny weight for the accumulator bits it
    drags in and a live weight for its adder at full accumulator width. It counts before da4ml
    shares common subexpressions (measured 2-3.5x above da4ml's LUT estimate on trained deep sets).
    x_frac / x_max: [P, n_in] soft fractional bits and largest magnitude per input (P particles
    with their own grids, else P = 1)."""
    qw, qb = wq.grid_values(weight), bq.grid_values(bias)
    f_w = wq.soft_frac().expand_as(weight)
    mantissa = torch.ceil(torch.log2(torch.abs(qw) * torch.exp2(f_w.detach()) + 1))  # digits, upper bound
    live = qw != 0
    digits = live * (mantissa + f_w - f_w.detach())  # gradient 1 in f where the weight lives
    b_live = qb != 0
    b_digits = b_live * (torch.ceil(torch.log2(torch.abs(qb) * torch.exp2(bq.frac_bits()) + 1))
                         + bq.soft_frac() - bq.soft_frac().detach())
    x_frac, x_max = x_frac.reshape(-1, weight.shape[0]), x_max.reshape(-1, weight.shape[0]).detach()
    term_frac = torch.where(live, x_frac[:, :, None] + f_w[None], torch.full_like(f_w, -64.0)[None])
    acc_frac = torch.maximum(term_frac.amax(1), torch.where(b_live, bq.soft_frac().expand_as(bias), -64.0))
    bound = x_max @ torch.abs(qw) + torch.abs(qb)
    width = _width(bound, acc_frac, True) * (bound > 0)
    terms = digits.sum(0) + b_digits
    return copies * (width * terms).sum()


def sum_adder_cost(x_frac: torch.Tensor, x_max: torch.Tensor, signed: bool) -> torch.Tensor:
    """The proxy of a sum over particles per channel ([P, C] inputs, P - 1 additions per channel,
    each as wide as the sum: its range plus the finest input grid)."""
    p = x_max.shape[0]
    return (p - 1) * _width(x_max.sum(0), x_frac.amax(0), signed).sum()
