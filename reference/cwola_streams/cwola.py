"""CWoLa on a patch (the authors' code, hep-lbdl/GaiaCWoLa): stars in a signal region of one
proper-motion coordinate (mu_lambda: the stream's median +- SR_FACTOR sigma, from the stream stars,
as the authors set it from the labelled GD-1 stars) against its sidebands (out to SB_FACTOR sigma);
a classifier of the other features (phi, lambda, mu_phi*, colour, G) learns where the signal region
is overdense. k-fold: each fold is scored by the mean of the models trained on the other folds
(each of those folds the validation set once, the rest the training set); inputs standardised on
the training stars; the best validation-loss epoch kept (early stopping)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..files import DataError
from .mock import COLUMNS

FEATURES = ("phi", "lambda", "mu_phi_star", "colour", "g")
SLICED = "mu_lambda"
COL = {c: i for i, c in enumerate(COLUMNS)}


@dataclass(frozen=True)
class ClassifierConfig:
    hidden: int
    layers: int
    dropout: float
    lr: float
    batch: int
    epochs: int
    patience: int
    folds: int


def regions(table: np.ndarray, sr_factor: float, sb_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the signal region and the sidebands in mu_lambda."""
    stream = table[table[:, COL["stream"]] == 1, COL[SLICED]]
    if len(stream) < 2:
        raise DataError("the mock patch holds fewer than two stream stars brighter than the magnitude limit; "
                        "release more (PatchSpec.n_stream)")
    centre, sigma = np.median(stream), np.std(stream)
    distance = np.abs(table[:, COL[SLICED]] - centre)
    return distance <= sr_factor * sigma, (distance > sr_factor * sigma) & (distance <= sb_factor * sigma)


def mlp(n_in: int, config: ClassifierConfig) -> nn.Module:
    layers, width = [], n_in
    for _ in range(config.layers):
        layers += [nn.Linear(width, config.hidden), nn.ReLU(), nn.Dropout(config.dropout)]
        width = config.hidden
    return nn.Sequential(*layers, nn.Linear(width, 1))


def _train(x_train, y_train, x_val, y_val, config: ClassifierConfig, seed: int):
    """One classifier; returns (model at its best validation epoch, mean, scale)."""
    torch.manual_seed(seed)
    mean, scale = x_train.mean(0), x_train.std(0) + 1e-12
    xt = torch.from_numpy(((x_train - mean) / scale).astype(np.float32))
    yt = torch.from_numpy(y_train.astype(np.float32))
    xv = torch.from_numpy(((x_val - mean) / scale).astype(np.float32))
    yv = torch.from_numpy(y_val.astype(np.float32))
    model = mlp(xt.shape[1], config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(seed)
    best, best_state, waited = np.inf, None, 0
    for _ in range(config.epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(xt)))
        for k in range(0, len(xt), config.batch):
            rows = order[k:k + config.batch]
            loss = loss_fn(model(xt[rows])[:, 0], yt[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(loss_fn(model(xv)[:, 0], yv))
        if val < best:
            best, waited = val, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= config.patience:
                break
    if best_state is None:
        raise DataError("the CWoLa classifier's validation loss was never finite")
    model.load_state_dict(best_state)
    return model, mean, scale


def kfold_scores(x: np.ndarray, y: np.ndarray, config: ClassifierConfig, seed: int) -> np.ndarray:
    """Each star's score from the models that never saw it (stratified folds)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold[rows] = np.arange(len(rows)) % config.folds
    scores = np.zeros(len(y))
    for test in range(config.folds):
        others = [f for f in range(config.folds) if f != test]
        total = np.zeros((fold == test).sum())
        for val in others:
            train = np.isin(fold, [f for f in others if f != val])
            model, mean, scale = _train(x[train], y[train], x[fold == val], y[fold == val], config,
                                        seed + 10 * test + val)
            with torch.no_grad():
                xs = torch.from_numpy(((x[fold == test] - mean) / scale).astype(np.float32))
                total += torch.sigmoid(model(xs)[:, 0]).numpy()
        scores[fold == test] = total / len(others)
    return scores
