"""R-ANODE's densities and their training.

- Background: a conditional flow p_bg(x | m) on the sidebands (the authors: a masked
  autoregressive flow of affine transforms, 8 blocks of 64 hidden units, Adam 1e-4, batch 256),
  then frozen.
- Signal: an unconditional flow p_sig(u, x) on the signal region, u = (m - 3.5 TeV) / 0.1 TeV
  (the authors: rational-quadratic spline MADE, 2 transforms, 32 hidden, 8 bins; AdamW 3e-4,
  batch 256, gradient norm clipped at 1, 300 epochs), trained with the mixture likelihood
  -mean log[w p_sig(u, x) + (1 - w) p_bg(x | m) p_bg(u)]; w fixed at its true value or learned
  as sigmoid(theta) (theta started at the logit of a draw from U(0.001, 0.01), as theirs).
- ANODE: a conditional flow p_data(x | m) on the signal region, the background's architecture.
- p_bg(u): a histogram density of the signal region's masses (50 bins; the authors fill theirs
  with the truth background's masses, a knowledge real data does not give).

Every fit keeps the weights of its `keep` lowest-validation-loss epochs; a density is the mean of
their densities (the authors average their 10 best epochs).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import zuko

from .data import SIGNAL_REGION, SR_SCALE, MASS_CENTRE

MASS_BINS = 50


def background_flow(transforms: int, hidden: tuple[int, ...]) -> zuko.flows.Flow:
    return zuko.flows.MAF(features=4, context=1, transforms=transforms, hidden_features=hidden)


def signal_flow(transforms: int, hidden: tuple[int, ...], bins: int) -> zuko.flows.Flow:
    return zuko.flows.NSF(features=5, transforms=transforms, hidden_features=hidden, bins=bins)


class MassDensity:
    """A histogram density of u over the signal region."""

    def __init__(self, u: np.ndarray):
        lo, hi = ((np.array(SIGNAL_REGION) - MASS_CENTRE) / SR_SCALE)
        self.edges = np.linspace(lo, hi, MASS_BINS + 1)
        counts, _ = np.histogram(u, self.edges)
        self.density = np.maximum(counts, 0.5) / (len(u) * np.diff(self.edges))

    def log_prob(self, u: np.ndarray) -> np.ndarray:
        index = np.clip(np.searchsorted(self.edges, u, side="right") - 1, 0, MASS_BINS - 1)
        return np.log(self.density[index])


@dataclass
class Fit:
    """What a training run left: the kept epochs' weights (best first) and the loss curves."""
    states: list[dict]
    train_loss: list[float]
    val_loss: list[float]
    best_epochs: list[int]


def fit(module: torch.nn.Module, loss_of, n_train: int, n_val: int, *, epochs: int, batch: int, lr: float,
        keep: int, seed: int, optimizer: str = "adam", clip: float | None = None) -> Fit:
    """Minimise loss_of(rows, train=True) over shuffled batches of training rows; after each epoch
    score loss_of(all val rows, train=False) and keep the `keep` best epochs' weights."""
    torch.manual_seed(seed)
    if optimizer == "adamw":  # weight decay on the networks only: it would pull a learned w towards 1/2
        decayed = [p for n, p in module.named_parameters() if n != "theta"]
        rest = [p for n, p in module.named_parameters() if n == "theta"]
        opt = torch.optim.AdamW([{"params": decayed}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    else:
        opt = torch.optim.Adam(module.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    best: list[tuple[float, int, dict]] = []
    train_curve, val_curve = [], []
    for epoch in range(epochs):
        module.train()
        order, total = rng.permutation(n_train), 0.0
        for k in range(0, n_train, batch):
            rows = torch.from_numpy(order[k:k + batch])
            loss = loss_of(rows, True)
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            opt.step()
            total += loss.item() * len(rows)
        module.eval()
        with torch.no_grad():
            val = float(loss_of(torch.arange(n_val), False))
        train_curve.append(total / n_train)
        val_curve.append(val)
        if math.isfinite(val):
            best.append((val, epoch, copy.deepcopy(module.state_dict())))
            best = sorted(best, key=lambda t: t[0])[:keep]
    if not best:
        raise FloatingPointError("every epoch's validation loss was not finite")
    return Fit([s for _, _, s in best], train_curve, val_curve, [e for _, e, _ in best])


def averaged_log_prob(module: torch.nn.Module, states: list[dict], log_prob_of) -> np.ndarray:
    """log of the mean over the kept epochs of exp(log_prob_of(module)) (float64)."""
    logs = []
    saved = copy.deepcopy(module.state_dict())
    with torch.no_grad():
        for state in states:
            module.load_state_dict(state)
            logs.append(log_prob_of(module).double())
    module.load_state_dict(saved)
    stacked = torch.stack(logs)
    return (torch.logsumexp(stacked, 0) - math.log(len(states))).numpy()


def conditional_log_prob(flow: zuko.flows.Flow, x: torch.Tensor, context: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    return torch.cat([flow(context[k:k + chunk]).log_prob(x[k:k + chunk]) for k in range(0, len(x), chunk)])


class Mixture(torch.nn.Module):
    """w p_sig(u, x) + (1 - w) p_bg(x | m) p_bg(u), with the background term given per event."""

    def __init__(self, flow: zuko.flows.Flow, w: float | None, w_start: float):
        super().__init__()
        self.flow = flow
        self.learn_w = w is None
        start = w_start if w is None else w
        theta = torch.tensor(math.log(start) - math.log1p(-start))
        if self.learn_w:
            self.theta = torch.nn.Parameter(theta)
        else:
            self.register_buffer("theta", theta)

    @property
    def w(self) -> torch.Tensor:
        return torch.sigmoid(self.theta)

    def log_likelihood(self, ux: torch.Tensor, log_bg: torch.Tensor) -> torch.Tensor:
        w = self.w
        return torch.logaddexp(torch.log(w) + self.flow().log_prob(ux), torch.log1p(-w) + log_bg)
