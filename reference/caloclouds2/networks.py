"""The per-point denoiser of CaloClouds II: a PointWiseNet of ConcatSquashLinear layers.

Every point is denoised independently; what ties the points of one shower together is the
context (the incident energy and the number of points, normalised to [-1, 1]) and the noise level
sigma, embedded with fixed random Fourier features and a linear layer as in EDM.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ConcatSquashLinear(nn.Module):
    """(W x + b) * sigmoid(W_g c + b_g) + W_b c: a linear map of the point, gated and shifted by
    the context c."""

    def __init__(self, n_in: int, n_out: int, n_context: int):
        super().__init__()
        self.layer = nn.Linear(n_in, n_out)
        self.gate = nn.Linear(n_context, n_out)
        self.hyper_bias = nn.Linear(n_context, n_out, bias=False)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.layer(x) * torch.sigmoid(self.gate(context)) + self.hyper_bias(context)


class FourierFeatures(nn.Module):
    """cos/sin of 2 pi c_noise w with w ~ N(0, std^2) drawn once and kept fixed (a buffer)."""

    def __init__(self, n_out: int, std: float):
        super().__init__()
        if n_out % 2:
            raise ValueError(f"Fourier features need an even width, got {n_out}")
        self.register_buffer("weight", torch.randn(n_out // 2) * std)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        angle = 2 * math.pi * c_noise[..., None] * self.weight
        return torch.cat([angle.cos(), angle.sin()], dim=-1)


class PointWiseNet(nn.Module):
    """F(x, c_noise, context) for points (..., point_dim) and per-point context (..., n_context)."""

    def __init__(self, point_dim: int = 4, n_context: int = 2, hidden: tuple[int, ...] = (128, 256, 512, 256, 128),
                 time_dim: int = 64, fourier_std: float = 16.0):
        super().__init__()
        self.time_embedding = nn.Sequential(FourierFeatures(time_dim, fourier_std), nn.Linear(time_dim, time_dim))
        widths = (point_dim, *hidden, point_dim)
        self.layers = nn.ModuleList(ConcatSquashLinear(a, b, time_dim + n_context) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        ctx = torch.cat([F.leaky_relu(self.time_embedding(c_noise)), context], dim=-1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ctx)
            if i < len(self.layers) - 1:
                x = F.leaky_relu(x)
        return x
