"""OmniJet-alpha's three trainings (tokenizer, backbone, taggers) and its configurations.

PAPER follows the authors' configs (gabbro: experiment_tokenization_transformer.yaml,
example_experiment_generative.yaml, example_experiment_classification.yaml): tokenizer width 128,
4 blocks, 8 heads, latent 4, 8,192 codes, 100 epochs of 5,850 batches of 512 at 1e-3; backbone width
256, 3 blocks, 8 heads, batches of 256 at 1e-3 (the authors stop early on the validation loss; 60
epochs of 7,800 batches here); taggers with the class-attention head, batches of 512 at 1e-4. The
authors train every model with AdamW (weight decay 1e-2) and clip gradients at 5. SMALL trains in
minutes on 2 CPU cores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .backbone import Backbone, Tagger, sequences
from .tokenizer import Tokenizer


@dataclass(frozen=True)
class TokenizerSpec:
    width: int
    blocks: int
    heads: int
    latent: int
    codes: int
    steps: int
    lr: float
    batch: int
    replace_every: int = 10
    beta: float = 0.9
    alpha: float = 10.0


@dataclass(frozen=True)
class BackboneSpec:
    width: int
    blocks: int
    heads: int
    steps: int
    lr: float
    batch: int


@dataclass(frozen=True)
class TaggerSpec:
    head: str
    steps: int
    lr: float
    batch: int
    sizes: tuple[int, ...]  # training jets per run (both classes together)


@dataclass(frozen=True)
class OmniJetConfig:
    constituents: int
    tokenizer: TokenizerSpec
    backbone: BackboneSpec
    tagger: TaggerSpec
    generated_jets: int

    def to_dict(self) -> dict:
        return asdict(self)


PAPER = OmniJetConfig(128, TokenizerSpec(128, 4, 8, 4, 8192, 585_000, 1e-3, 512),
                      BackboneSpec(256, 3, 8, 468_000, 1e-3, 256),
                      TaggerSpec("class_attention", 20_000, 1e-4, 512, (100, 1_000, 10_000, 100_000, 1_000_000)),
                      10_000)
SMALL = replace(PAPER, constituents=48, tokenizer=TokenizerSpec(64, 2, 4, 4, 512, 1500, 1e-3, 128),
                backbone=BackboneSpec(64, 2, 4, 3000, 1e-3, 64),
                tagger=TaggerSpec("class_attention", 300, 3e-4, 64, (100, 1_000, 10_000)), generated_jets=2000)
CONFIGS = {"paper": PAPER, "small": SMALL}


def fit(description: str, groups: list[dict], loss_fn, steps: int, batch: int, n: int, seed: int,
        quiet: bool) -> list[float]:
    """AdamW (weight decay 1e-2) on parameter groups ({'params', 'lr'}), gradients clipped at 5,
    `steps` random batches of `batch` of n rows; the loss curve (~100 points)."""
    opt = torch.optim.AdamW(groups, weight_decay=1e-2)
    params = [p for g in groups for p in g["params"]]
    gen = torch.Generator().manual_seed(seed)
    curve, window, every = [], [], max(1, steps // 100)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[status]}"), TimeRemainingColumn(), disable=quiet)
    with progress:
        task = progress.add_task(description, total=steps, status="")
        for _ in range(steps):
            loss = loss_fn(torch.randint(0, n, (min(batch, n),), generator=gen))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            window.append(float(loss.detach()))
            if len(window) == every:
                curve.append(float(np.mean(window)))
                window = []
                progress.update(task, advance=every, status=f"loss {curve[-1]:.3f}")
    return curve


def train_tokenizer(spec: TokenizerSpec, x: torch.Tensor, mask: torch.Tensor, seed: int, quiet: bool):
    torch.manual_seed(seed)
    tok = Tokenizer(spec.width, spec.blocks, spec.heads, spec.latent, spec.codes, spec.beta, spec.replace_every)
    affine = [tok.quantizer.log_scale, tok.quantizer.shift]
    rest = [p for p in tok.parameters() if all(p is not a for a in affine)]
    groups = [{"params": rest, "lr": spec.lr}, {"params": affine, "lr": 2 * spec.lr}]  # the authors' affine_lr 2
    curve = fit("tokenizer (VQ-VAE)", groups, lambda i: tok.loss(x[i], mask[i], spec.alpha)[0], spec.steps,
                spec.batch, len(x), seed, quiet)
    return tok.eval(), curve


def train_backbone(spec: BackboneSpec, codes: int, seq: torch.Tensor, seed: int, quiet: bool):
    torch.manual_seed(seed)
    backbone = Backbone(codes, spec.width, spec.blocks, spec.heads)
    curve = fit("backbone (GPT)", [{"params": list(backbone.parameters()), "lr": spec.lr}],
                lambda i: backbone.loss(seq[i]), spec.steps, spec.batch, len(seq), seed, quiet)
    return backbone.eval(), curve


def train_tagger(spec: TaggerSpec, backbone: Backbone, mode: str, seq: torch.Tensor, label: torch.Tensor, seed: int,
                 quiet: bool) -> Tagger:
    """mode: 'fine-tuned' (everything at spec.lr), 'frozen' (the backbone fixed) or 'from scratch'
    (`backbone` must then be a fresh one)."""
    torch.manual_seed(seed)
    tagger = Tagger(backbone, spec.head)
    groups = [{"params": list(tagger.head.parameters()), "lr": spec.lr}]
    if mode == "frozen":
        backbone.requires_grad_(False)
    else:
        groups.append({"params": list(backbone.parameters()), "lr": spec.lr})
    tagger.train()
    fit(f"tagger, {mode}, {len(seq)} jets", groups,
        lambda i: torch.nn.functional.cross_entropy(tagger(seq[i]), label[i]), spec.steps, spec.batch, len(seq),
        seed, quiet)
    return tagger.eval()


@torch.no_grad()
def accuracy(tagger: Tagger, seq: torch.Tensor, label: torch.Tensor, batch: int = 2000) -> float:
    predicted = torch.cat([tagger(seq[k:k + batch]).argmax(1) for k in range(0, len(seq), batch)])
    return float((predicted == label).float().mean())


def token_sequences(tok: Tokenizer, x: torch.Tensor, mask: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    tokens = torch.cat([tok.tokenize(x[k:k + batch], mask[k:k + batch]) for k in range(0, len(x), batch)])
    return sequences(tokens, tok.n_codes)
