"""The GPT backbone and the taggers built on it, as the authors' code (gabbro's BackboneModel,
ClassifierNormformer).

A jet's token sequence is [START, t_1 + 1, ..., t_n + 1, STOP] (START = 0, STOP = codes + 1, so the
vocabulary is codes + 2), padded after STOP. The backbone: a token embedding of `width`, `blocks`
post-norm transformer blocks (x <- LN(x + causal MHA(x)), x <- LN(x + FF(x)), FF = 4 x width with
ReLU; no positional embedding: the order is the jets' pT order, carried by causality alone) and a
linear head over the vocabulary. Training: next-token cross entropy over the real positions (the
authors average over every position, padding included; here padding is left out). Generation:
START, then tokens drawn from the softmax one at a time until STOP or `max_length`.

Taggers read the backbone's last hidden states (real positions):
- class attention (the authors' default): a learnable class token attends `blocks` times to
  LN([class token, states]) (2 heads; each block's output replaces the token: no residual, as the
  authors' code), then MLP width-SiLU-width-SiLU-2 with dropout;
- summation: ReLU(Linear(states)) summed over the jet, then Linear to 2.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

START = 0


def stop_token(codes: int) -> int:
    return codes + 1


def sequences(tokens: torch.Tensor, codes: int) -> torch.Tensor:
    """Tokens (B, n), -1 at padding (pT-ordered, real ones first) -> (B, n + 2) sequences, padded
    with -1 after STOP."""
    b, n = tokens.shape
    lengths = (tokens >= 0).sum(1)
    seq = torch.full((b, n + 2), -1, dtype=torch.long)
    seq[:, 0] = START
    seq[:, 1:n + 1] = torch.where(tokens >= 0, tokens + 1, -1)
    seq[torch.arange(b), lengths + 1] = stop_token(codes)
    return seq


def tokens_from_sequences(seq: torch.Tensor, codes: int, n: int) -> torch.Tensor:
    """Generated sequences -> tokens (B, n), -1 after the first STOP (or padding)."""
    body = seq[:, 1:]
    ended = torch.cumsum((body == stop_token(codes)) | (body < 0), 1) > 0
    tokens = torch.where(ended, -1, body - 1)[:, :n]
    return F.pad(tokens, (0, n - tokens.shape[1]), value=-1)


class GPTBlock(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, bias=False, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, 4 * width), nn.ReLU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        attended, _ = self.attention(x, x, x, attn_mask=causal, key_padding_mask=padding, need_weights=False)
        x = self.norm1(x + attended)
        return self.norm2(x + self.ff(x))


class Backbone(nn.Module):
    def __init__(self, codes: int, width: int = 256, blocks: int = 3, heads: int = 8, dropout: float = 0.0):
        super().__init__()
        self.codes = codes
        self.embedding = nn.Embedding(codes + 2, width)
        self.blocks = nn.ModuleList(GPTBlock(width, heads, dropout) for _ in range(blocks))
        self.head = nn.Linear(width, codes + 2)

    def hidden(self, seq: torch.Tensor) -> torch.Tensor:
        """Sequences (B, T), -1 at padding -> hidden states (B, T, width)."""
        padding = seq < 0
        x = self.embedding(seq.clamp(min=0))
        for block in self.blocks:
            x = block(x, padding)
        return x

    def loss(self, seq: torch.Tensor) -> torch.Tensor:
        """Next-token cross entropy over the real positions."""
        logits = self.head(self.hidden(seq[:, :-1]))
        target = seq[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-1)

    @torch.no_grad()
    def generate(self, n_jets: int, max_length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sequences (n_jets, max_length + 2): START, drawn tokens, STOP (forced at max_length), -1 after."""
        seq = torch.full((n_jets, 1), START, dtype=torch.long)
        done = torch.zeros(n_jets, dtype=torch.bool)
        stop = stop_token(self.codes)
        for step in range(max_length + 1):
            logits = self.head(self.hidden(seq)[:, -1])
            logits[:, START] = -torch.inf
            if step == 0:
                logits[:, stop] = -torch.inf  # a jet has at least one constituent
            if step == max_length:
                nxt = torch.full((n_jets,), stop, dtype=torch.long)
            else:
                nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).reshape(-1)
            nxt = torch.where(done, -1, nxt)
            done |= nxt == stop
            seq = torch.cat([seq, nxt[:, None]], 1)
            if bool(done.all()):
                break
        return F.pad(seq, (0, max_length + 2 - seq.shape[1]), value=-1)


class ClassAttentionHead(nn.Module):
    def __init__(self, width: int, blocks: int = 3, heads: int = 2, dropout: float = 0.1, classes: int = 2):
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(blocks))
        self.attentions = nn.ModuleList(nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
                                        for _ in range(blocks))
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Dropout(dropout), nn.Linear(width, width),
                                 nn.SiLU(), nn.Dropout(dropout), nn.Linear(width, classes))

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cls = self.token.expand(len(states), 1, -1)
        keep = torch.cat([torch.ones(len(mask), 1, dtype=torch.bool), mask], 1)
        for norm, attention in zip(self.norms, self.attentions):
            kv = norm(torch.cat([cls, states], 1))
            cls, _ = attention(cls, kv, kv, key_padding_mask=~keep, need_weights=False)
        return self.mlp(cls[:, 0])


class SummationHead(nn.Module):
    def __init__(self, width: int, classes: int = 2):
        super().__init__()
        self.inner, self.outer = nn.Linear(width, width), nn.Linear(width, classes)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.outer((torch.relu(self.inner(states)) * mask[..., None]).sum(1))


class Tagger(nn.Module):
    """A backbone (pre-trained or fresh) and a head; logits (B, 2) of token sequences."""

    def __init__(self, backbone: Backbone, head: str = "class_attention"):
        super().__init__()
        self.backbone = backbone
        width = backbone.embedding.embedding_dim
        self.head = ClassAttentionHead(width) if head == "class_attention" else SummationHead(width)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        states = self.backbone.hidden(seq)
        real = (seq > START) & (seq != stop_token(self.backbone.codes))
        return self.head(states, real)
