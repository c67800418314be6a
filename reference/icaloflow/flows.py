"""The teacher MAF, the IAF student and the distillation losses.

Teacher (the paper's): a masked autoregressive flow of `blocks` MADE blocks, each a monotonic
rational-quadratic spline per dimension (8 bins, bound 14, identity outside) whose parameters a
MADE computes from the preceding dimensions and the condition; block orders alternate (identity,
reversed). zuko builds it. Density (data -> noise) is one pass per block; sampling inverts each
block one dimension at a time (`features` passes per block).

Student: an inverse autoregressive flow that samples in one pass per block. Block k (applied in
reverse, mirroring the teacher's block k) maps noise z to x_i = z_i exp(s_i) + t_i, with
(s_i, t_i) computed by a MADE from z_<i (in that block's order) and the condition, and s clamped to
[-S_MAX, S_MAX]. The paper's students are spline IAFs of the teacher's size; l1forge's student is
affine because its sampling pass then needs only products, sums and one exp table in fixed point
(see models/generators/icaloflow.py). Distillation is the paper's (CaloFlow II): with data x,
z_t = teacher(x) and the x-loss |student(z_t) - x|^2; with noise z, the z-loss
|teacher(student(z)) - z|^2; loss = (1 - beta) z-loss + beta x-loss, squared errors summed over
dimensions. (The paper also matches each intermediate block and spline parameter, which needs the
student to share the teacher's transform; an affine student can only match the ends.)
"""
from __future__ import annotations

from functools import partial

import torch
import zuko
from torch import nn
from zuko.flows.autoregressive import MaskedAutoregressiveTransform

S_MAX = 4.0
SPLINE_BOUND = 14.0


def build_teacher(features: int, context: int, blocks: int, hidden: int, layers: int, bins: int = 8) -> zuko.flows.Flow:
    """The paper's MAF: `blocks` spline MADE blocks, `layers` hidden layers of `hidden` ReLUs."""
    orders = [torch.arange(features), torch.flipud(torch.arange(features))]
    spline = partial(zuko.transforms.MonotonicRQSTransform, bound=SPLINE_BOUND)
    transforms = [MaskedAutoregressiveTransform(features, context, order=orders[i % 2], univariate=spline,
                                                shapes=[(bins,), (bins,), (bins - 1,)],
                                                hidden_features=[hidden] * layers, activation=nn.ReLU)
                  for i in range(blocks)]
    base = zuko.flows.UnconditionalDistribution(zuko.distributions.DiagNormal, loc=torch.zeros(features),
                                                scale=torch.ones(features), buffer=True)
    return zuko.flows.Flow(transforms, base)


def teacher_to_noise(teacher: zuko.flows.Flow, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    """The teacher's density direction, data -> noise (one pass per block)."""
    return teacher(context).transform(x)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def made_masks(order: torch.Tensor, hidden: int, layers: int, context: int) -> list[torch.Tensor]:
    """Masks (out, in) of a MADE over len(order) features with `layers` hidden layers: output i
    (twice: scale and shift) sees the inputs earlier than i in `order`; the first layer also sees
    the `context` condition inputs (appended after the features)."""
    d = len(order)
    rank = torch.empty(d, dtype=torch.long)
    rank[order] = torch.arange(d)  # position of each feature in the order
    hidden_rank = torch.arange(hidden) % max(d - 1, 1)  # each hidden unit may see ranks <= its own
    in_rank = torch.cat([rank, torch.full((context,), -1)])
    masks = [hidden_rank[:, None] >= in_rank[None, :]]
    masks += [hidden_rank[:, None] >= hidden_rank[None, :] for _ in range(layers - 1)]
    masks.append(rank[:, None] > hidden_rank[None, :])
    return masks


class MADE(nn.Module):
    """Hidden ReLU layers, then two heads: (s, t) per feature, autoregressive in `order`."""

    def __init__(self, order: torch.Tensor, context: int, hidden: int, layers: int):
        super().__init__()
        d = len(order)
        masks = made_masks(order, hidden, layers, context)
        self.hidden = nn.ModuleList(MaskedLinear(m.shape[1], m.shape[0], m) for m in masks[:-1])
        self.scale = MaskedLinear(hidden, d, masks[-1])
        self.shift = MaskedLinear(hidden, d, masks[-1])
        for head in (self.scale, self.shift):  # start near the identity
            nn.init.normal_(head.weight, std=1e-3)
            nn.init.zeros_(head.bias)

    def forward(self, z, context):
        h = torch.cat([z, context], -1)
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return self.scale(h).clamp(-S_MAX, S_MAX), self.shift(h)


class AffineIAF(nn.Module):
    """The student: noise -> data in one pass per block (module docstring)."""

    def __init__(self, features: int, context: int, blocks: int, hidden: int, layers: int):
        super().__init__()
        orders = [torch.arange(features), torch.flipud(torch.arange(features))]
        # self.blocks[k] inverts the teacher's block k; sampling runs them from the last to the first
        self.blocks = nn.ModuleList(MADE(orders[k % 2], context, hidden, layers) for k in range(blocks))
        self.features = features

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for block in reversed(self.blocks):
            s, t = block(z, context)
            z = z * torch.exp(s) + t
        return z


def distillation_loss(student: AffineIAF, teacher: zuko.flows.Flow, x: torch.Tensor, context: torch.Tensor,
                      beta: float = 0.5) -> tuple[torch.Tensor, dict]:
    """(1 - beta) z-loss + beta x-loss on a batch of data x with its conditions."""
    with torch.no_grad():
        z_data = teacher_to_noise(teacher, x, context)
    x_loss = ((student(z_data, context) - x) ** 2).sum(-1).mean()
    z = torch.randn_like(x)
    z_loss = ((teacher_to_noise(teacher, student(z, context), context) - z) ** 2).sum(-1).mean()
    return (1 - beta) * z_loss + beta * x_loss, {"x_loss": float(x_loss.detach()), "z_loss": float(z_loss.detach())}
