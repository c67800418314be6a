"""The classifier DisCo-FFS trains on each feature set, as the authors' code: inputs scaled by
median and inter-quartile range (fitted on training and validation jets), a 32-32 ReLU network,
a two-class output (here one logit: the same model), Adam at 1e-3, batches of 512, and the weights
of the epoch with the lowest validation loss. Its metrics: the ROC AUC and the background rejection
1 / eps_B at a signal efficiency (R30 for top tagging, R50 for W tagging, as the paper)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from ..ultrafast_jet_classification.models import mlp


@dataclass
class TrainedClassifier:
    network: torch.nn.Module
    centre: np.ndarray
    scale: np.ndarray
    best_epoch: int
    val_loss: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            z = torch.from_numpy(((x - self.centre) / self.scale).astype(np.float32))
            return torch.sigmoid(self.network(z)[:, 0]).numpy()


def _robust_scaling(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q25, centre, q75 = np.percentile(x, [25, 50, 75], axis=0)
    scale = q75 - q25
    return centre, np.where(scale > 0, scale, 1.0)


def train_classifier(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray, hidden: tuple[int, ...],
                     epochs: int, batch_size: int = 512, lr: float = 1e-3, seed: int = 0) -> TrainedClassifier:
    """Train on rows `train`, keep the epoch with the lowest loss on rows `val`."""
    centre, scale = _robust_scaling(x[np.concatenate([train, val])])
    z = torch.from_numpy(((x - centre) / scale).astype(np.float32))
    target = torch.from_numpy(y.astype(np.float32))
    torch.manual_seed(seed)
    network = torch.nn.Sequential(*mlp(list(hidden), x.shape[1]), torch.nn.Linear(hidden[-1] if hidden else x.shape[1], 1))
    opt = torch.optim.Adam(network.parameters(), lr=lr)
    loss_of = torch.nn.functional.binary_cross_entropy_with_logits
    generator = np.random.default_rng(seed)
    best = (np.inf, 0, None)
    for epoch in range(epochs):
        order = generator.permutation(train)
        for start in range(0, len(order), batch_size):
            rows = torch.from_numpy(order[start:start + batch_size])
            loss = loss_of(network(z[rows])[:, 0], target[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            val_loss = float(loss_of(network(z[val])[:, 0], target[val]))
        if val_loss < best[0]:
            best = (val_loss, epoch + 1, {k: v.clone() for k, v in network.state_dict().items()})
    if best[2] is None:
        raise ValueError(f"the classifier's validation loss was never finite in {epochs} epochs")
    network.load_state_dict(best[2])
    return TrainedClassifier(network, centre, scale, best[1], best[0])


def roc(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eps_B, eps_S) of every threshold, from (0, 0) up to (1, 1); tied scores form one point."""
    order = np.argsort(-score, kind="stable")
    y, score = np.asarray(y)[order] > 0.5, np.asarray(score)[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # the last index of each distinct score
    signal, background = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, background / max(background[-1], 1)], np.r_[0.0, signal / max(signal[-1], 1)]


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """The ROC AUC by ranks (Mann-Whitney; ties count half)."""
    positive = np.asarray(y) > 0.5
    n_pos, n_neg = positive.sum(), (~positive).sum()
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rejection(y: np.ndarray, score: np.ndarray, signal_efficiency: float) -> float:
    """1 / eps_B at the given eps_S, linearly interpolated on the ROC curve (at a vertical step of
    the curve the largest eps_B there is taken); inf when no background passes."""
    background, signal = roc(y, score)
    eps_b = float(np.interp(signal_efficiency, signal, background))
    return float("inf") if eps_b <= 0 else 1.0 / eps_b


def metrics(y: np.ndarray, score: np.ndarray, signal_efficiency: float) -> dict:
    return {"auc": auc(y, score), "rejection": rejection(y, score, signal_efficiency),
            "accuracy": float(((score > 0.5) == (y > 0.5)).mean())}
