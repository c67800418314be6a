"""The tokenizer: a VQ-VAE over a jet's constituents, as the authors' code builds it (gabbro's
VQVAENormFormer). Constituents (B, n, 3) go through a linear map to `width`, `blocks` NormFormer
blocks (masked self-attention over the jet's real constituents), a linear map to the `latent`
space and the quantizer; the decoder mirrors it (linear to `width`, NormFormer blocks, linear to 3),
so each constituent is decoded with the whole jet in view.

NormFormer block: x <- x + LN_post(MHA(LN(x))), then x <- x + MLP(x) with MLP = LN, Linear, SiLU,
dropout, Linear; the post-attention norm's weight and the MLP's last layer start at zero (the block
starts as the identity). The quantizer: the nearest of `codes` vectors (Euclidean), a
straight-through gradient, the loss |sg(z) - q|^2 + beta |z - sg(q)|^2; the codebook is initialised
by k-means on the first training batch's latents, is used through a learnable affine map (scale,
shift per latent dimension; the authors' vqtorch "affine" option) and codes unused for
`replace_every` steps are moved onto random latents of the current batch (vqtorch's dead-code
replacement). The training loss is the reconstruction MSE over real constituents + alpha x the VQ
loss.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class NormFormerBlock(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.post_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Dropout(dropout),
                                 nn.Linear(width, width))
        nn.init.zeros_(self.post_norm.weight)
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask[..., None]
        h = self.norm(x)
        attended, _ = self.attention(h, h, h, key_padding_mask=~mask, need_weights=False)
        x = x + self.post_norm(attended)
        return (x + self.mlp(x)) * mask[..., None]


def kmeans(points: torch.Tensor, k: int, iterations: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """k centres of points (P, d) by Lloyd's algorithm from a random draw (with replacement and a
    little jitter when there are fewer points than centres)."""
    replace = len(points) < k
    pick = torch.randint(0, len(points), (k,), generator=generator) if replace else \
        torch.randperm(len(points), generator=generator)[:k]
    centres = points[pick].clone()
    if replace:
        centres += 1e-3 * points.std(0) * torch.randn(centres.shape, generator=generator)
    for _ in range(iterations):
        nearest = torch.cdist(points, centres).argmin(1)
        counts = torch.bincount(nearest, minlength=k).float()
        sums = torch.zeros_like(centres).index_add_(0, nearest, points)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
    return centres


class VectorQuantizer(nn.Module):
    def __init__(self, codes: int, latent: int, beta: float, replace_every: int):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(codes, latent))
        self.log_scale = nn.Parameter(torch.zeros(latent))
        self.shift = nn.Parameter(torch.zeros(latent))
        self.beta, self.replace_every = beta, replace_every
        self.register_buffer("initialised", torch.tensor(False))
        self.register_buffer("used", torch.zeros(codes, dtype=torch.bool))
        self.register_buffer("steps", torch.tensor(0))

    def codes(self) -> torch.Tensor:
        return self.codebook * torch.exp(self.log_scale) + self.shift

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """The token of each latent (P, d)."""
        return torch.cdist(z, self.codes()).argmin(1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Latents of real constituents (P, d) -> (quantized with a straight-through gradient,
        tokens, VQ loss)."""
        if self.training:
            self._maintain(z.detach())
        tokens = self.nearest(z.detach())
        q = self.codes()[tokens]
        loss = F.mse_loss(q, z.detach()) + self.beta * F.mse_loss(z, q.detach())
        if self.training:
            self.used[tokens] = True
            self.steps += 1
        return z + (q - z).detach(), tokens, loss

    @torch.no_grad()
    def _maintain(self, z: torch.Tensor) -> None:
        """Before the codebook enters this step's graph: k-means on the first batch; every
        `replace_every` steps, codes unused since the last replacement move onto random latents."""
        if not self.initialised:
            self.codebook.copy_((kmeans(z, len(self.codebook)) - self.shift) / torch.exp(self.log_scale))
            self.initialised.fill_(True)
        elif int(self.steps) > 0 and int(self.steps) % self.replace_every == 0:
            dead = torch.nonzero(~self.used).reshape(-1)
            if len(dead):
                fresh = z[torch.randint(0, len(z), (len(dead),))]
                self.codebook[dead] = (fresh - self.shift) / torch.exp(self.log_scale)
            self.used.zero_()


class Tokenizer(nn.Module):
    def __init__(self, width: int = 128, blocks: int = 4, heads: int = 8, latent: int = 4, codes: int = 8192,
                 beta: float = 0.9, replace_every: int = 10, dropout: float = 0.1, features: int = 3):
        super().__init__()
        self.encoder_in = nn.Linear(features, width)
        self.encoder = nn.ModuleList(NormFormerBlock(width, heads, dropout) for _ in range(blocks))
        self.to_latent = nn.Linear(width, latent)
        self.quantizer = VectorQuantizer(codes, latent, beta, replace_every)
        self.from_latent = nn.Linear(latent, width)
        self.decoder = nn.ModuleList(NormFormerBlock(width, heads, dropout) for _ in range(blocks))
        self.decoder_out = nn.Linear(width, features)

    @property
    def n_codes(self) -> int:
        return len(self.quantizer.codebook)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Constituents (B, n, 3) -> latents (B, n, latent)."""
        h = self.encoder_in(x)
        for block in self.encoder:
            h = block(h, mask)
        return self.to_latent(h) * mask[..., None]

    def decode_latents(self, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(q) * mask[..., None]
        for block in self.decoder:
            h = block(h, mask)
        return self.decoder_out(h) * mask[..., None]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction (B, n, 3), tokens (B, n) with -1 at padding, VQ loss)."""
        z = self.encode(x, mask)
        q_real, tokens_real, vq_loss = self.quantizer(z[mask])
        q = torch.zeros_like(z)
        q[mask] = q_real
        tokens = torch.full(mask.shape, -1, dtype=torch.long)
        tokens[mask] = tokens_real
        return self.decode_latents(q, mask), tokens, vq_loss

    def loss(self, x: torch.Tensor, mask: torch.Tensor, alpha: float = 10.0) -> tuple[torch.Tensor, dict]:
        reconstruction, _, vq_loss = self(x, mask)
        mse = F.mse_loss(reconstruction[mask], x[mask])
        return mse + alpha * vq_loss, {"mse": float(mse.detach()), "vq": float(vq_loss.detach())}

    @torch.no_grad()
    def tokenize(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Tokens (B, n), -1 at padding."""
        tokens = torch.full(mask.shape, -1, dtype=torch.long)
        tokens[mask] = self.quantizer.nearest(self.encode(x, mask)[mask])
        return tokens

    @torch.no_grad()
    def detokenize(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, n), -1 at padding -> constituents (B, n, 3)."""
        mask = tokens >= 0
        q = torch.zeros(*tokens.shape, self.quantizer.codebook.shape[1])
        q[mask] = self.quantizer.codes()[tokens[mask]]
        return self.decode_latents(q, mask)
