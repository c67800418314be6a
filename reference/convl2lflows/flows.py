"""The layer flow: one conditional convolutional normalizing flow per calorimeter layer.

A layer image (B, 1, 18, 50) is squeezed (2 x 2 pixels -> 4 channels: (B, 4, 9, 25)), then goes
through `blocks` blocks of
  - ActNorm: a per-channel scale and shift, set from the first training batch to give zero mean and
    unit variance;
  - a rational-quadratic coupling: the first half of the channels passes unchanged and, with the
    embedded condition, feeds a U-Net that gives each pixel of the other half its monotonic spline
    (`bins` bins on [-15, 15], identity outside; the U-Net's last convolution starts at zero, so
    the block starts as the identity);
  - an invertible 1x1 convolution (a channel-mixing matrix, started at the identity).
The U-Net: per level two 3x3 convolutions (batch norm, leaky ReLU) and a strided convolution down
by `downsamples[level]` (the paper: (3, 5) twice: 9 x 25 -> 3 x 5 -> 1 x 1), then transposed
convolutions back up with skip connections; every 3x3 convolution pads the angular (last) axis
cyclically and the radial axis with zeros. The condition (the previous layers' images in the flow's
space, then the layer-energy and incident-energy channels) is embedded by a small CNN to
`embed` channels at the squeezed size (layer 0, with no previous layers, takes its two energy
channels subsampled instead, as the paper).
"""
from __future__ import annotations

import math

import torch
import zuko
from torch import nn
from torch.nn import functional as F

TAIL_BOUND = 15.0


class CyclicConv(nn.Conv2d):
    """A 3x3 convolution padding the last axis cyclically, the one before with zeros."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, 3, padding=(1, 0))

    def forward(self, x):
        return super().forward(F.pad(x, (1, 1, 0, 0), mode="circular"))


def _block(c_in: int, c_mid: int, c_out: int, activation: bool) -> nn.Sequential:
    layers = [CyclicConv(c_in, c_mid), nn.BatchNorm2d(c_mid), nn.LeakyReLU(), CyclicConv(c_mid, c_out)]
    if activation:
        layers += [nn.BatchNorm2d(c_out), nn.LeakyReLU()]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    def __init__(self, c_in: int, c_out: int, hidden: int, downsamples: tuple[tuple[int, int], ...]):
        super().__init__()
        width = [hidden * 2**i for i in range(len(downsamples) + 1)]
        self.encoders = nn.ModuleList(_block(c_in if i == 0 else width[i], width[i], width[i], True)
                                      for i in range(len(downsamples)))
        self.downs = nn.ModuleList(nn.Conv2d(width[i], width[i + 1], k, stride=k) for i, k in enumerate(downsamples))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(width[i + 1], width[i], k, stride=k)
                                 for i, k in enumerate(downsamples))
        self.decoders = nn.ModuleList(_block(2 * width[i], width[i], c_out if i == 0 else width[i], i != 0)
                                      for i in range(len(downsamples)))
        last = self.decoders[0][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x):
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = F.leaky_relu(x)
        for decoder, up in zip(reversed(self.decoders), reversed(self.ups)):
            x = decoder(torch.cat([up(x), skips.pop()], 1))
        return x


class ActNorm(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.shift = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialised", torch.tensor(False))

    def forward(self, x):
        if self.training and not self.initialised:
            with torch.no_grad():
                self.shift.copy_(-x.mean((0, 2, 3), keepdim=True))
                self.log_scale.copy_(-torch.log(x.std((0, 2, 3), keepdim=True) + 1e-6))
                self.initialised.fill_(True)
        y = (x + self.shift) * torch.exp(self.log_scale)
        return y, self.log_scale.sum() * x.shape[2] * x.shape[3]

    def inverse(self, y):
        return y * torch.exp(-self.log_scale) - self.shift


class OneByOne(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.eye(channels))

    def forward(self, x):
        return torch.einsum("ij,bjhw->bihw", self.weight, x), torch.linalg.slogdet(self.weight)[1] * x.shape[2] * x.shape[3]

    def inverse(self, y):
        return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(self.weight), y)


class RQSCoupling(nn.Module):
    def __init__(self, channels: int, context: int, hidden: int, bins: int, downsamples):
        super().__init__()
        self.keep = channels // 2
        self.bins = bins
        self.net = UNet(self.keep + context, (channels - self.keep) * (3 * bins - 1), hidden, downsamples)

    def _spline(self, fixed, context):
        b, _, h, w = fixed.shape
        params = self.net(torch.cat([fixed, context], 1)).reshape(b, -1, 3 * self.bins - 1, h, w)
        params = params.permute(0, 1, 3, 4, 2).contiguous()
        k = self.bins
        return zuko.transforms.MonotonicRQSTransform(params[..., :k], params[..., k:2 * k], params[..., 2 * k:],
                                                     bound=TAIL_BOUND)

    def forward(self, x, context):
        fixed, moving = x[:, :self.keep], x[:, self.keep:]
        spline = self._spline(fixed, context)
        y, ladj = spline.call_and_ladj(moving)
        return torch.cat([fixed, y], 1), ladj.sum((1, 2, 3))

    def inverse(self, y, context):
        fixed, moving = y[:, :self.keep], y[:, self.keep:]
        return torch.cat([fixed, self._spline(fixed, context).inv(moving)], 1)


def squeeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.reshape(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c // 4, 2 * h, 2 * w)


def embedding_net(c_in: int, embed: int) -> nn.Sequential:
    """The condition at full size -> `embed` channels at the squeezed size."""
    return nn.Sequential(nn.Conv2d(c_in, embed, 1), nn.LeakyReLU(), CyclicConv(embed, embed), nn.LeakyReLU(),
                         nn.Conv2d(embed, embed, 2, stride=2), nn.LeakyReLU(), CyclicConv(embed, embed))


class LayerFlow(nn.Module):
    """p(layer image | condition image), the module docstring's flow; `context_channels` is the
    number of previous layers given plus 2."""

    def __init__(self, context_channels: int, blocks: int, hidden: int, bins: int,
                 downsamples: tuple[tuple[int, int], ...], embed: int):
        super().__init__()
        self.embed = embedding_net(context_channels, embed) if context_channels > 2 else None
        c = embed if self.embed is not None else context_channels
        self.norms = nn.ModuleList(ActNorm(4) for _ in range(blocks))
        self.couplings = nn.ModuleList(RQSCoupling(4, c, hidden, bins, downsamples) for _ in range(blocks))
        self.mixers = nn.ModuleList(OneByOne(4) for _ in range(blocks))

    def _context(self, context):
        return self.embed(context) if self.embed is not None else context[..., ::2, ::2]

    def to_noise(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, 1, 18, 50) in the flow's space -> (noise (B, 4, 9, 25), log |det J| per image)."""
        c = self._context(context)
        z, total = squeeze(x), 0.0
        for norm, coupling, mixer in zip(self.norms, self.couplings, self.mixers):
            for step in (norm, lambda v: coupling(v, c), mixer):
                z, ladj = step(z)
                total = total + ladj
        return z, total

    def log_prob(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """log p of images (B, 1, 18, 50) in the flow's space, per image."""
        z, ladj = self.to_noise(x, context)
        dims = z[0].numel()
        return -0.5 * (z**2).sum((1, 2, 3)) - 0.5 * dims * math.log(2 * math.pi) + ladj

    @torch.no_grad()
    def sample(self, context: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, 1, 18, 50) for conditions (B, C, 18, 50), from noise z (drawn when None)."""
        c = self._context(context)
        b, _, h, w = context.shape
        z = torch.randn(b, 4, h // 2, w // 2) if z is None else z
        for norm, coupling, mixer in zip(reversed(self.norms), reversed(self.couplings), reversed(self.mixers)):
            z = norm.inverse(coupling.inverse(mixer.inverse(z), c))
        return unsqueeze(z)
