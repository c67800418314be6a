"""A classifier two-sample test, as the generator papers evaluate: a small MLP learns to tell two
samples apart on given features; the ROC AUC on held-out rows, averaged over the two halves of a
2-fold split. 0.5: indistinguishable; 1: always told apart. The samples must be independent: a row
in both (a copy) is learned with both labels and pushes the AUC below 0.5."""
from __future__ import annotations

import numpy as np


def classifier_auc(a: np.ndarray, b: np.ndarray, seed: int = 0, epochs: int = 200, standardize: bool = True) -> float:
    """The two-sample AUC of feature rows `a` (label 0) against `b` (label 1); each feature is
    standardised on the training fold unless `standardize` is False (sparse features, such as
    calorimeter voxels, where a rarely hit one would be blown up)."""
    import torch
    from scipy.stats import rankdata

    x = np.concatenate([a, b]).astype(np.float32)
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))]).astype(np.float32)
    fold = np.random.default_rng(seed).permutation(len(x)) % 2
    aucs = []
    for k in (0, 1):
        train, test = fold != k, fold == k
        mean, std = (x[train].mean(0), x[train].std(0) + 1e-6) if standardize else (0.0, 1.0)
        xt, xv = torch.from_numpy((x[train] - mean) / std), torch.from_numpy((x[test] - mean) / std)
        torch.manual_seed(seed + k)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                  torch.nn.ReLU(), torch.nn.Linear(64, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        yt = torch.from_numpy(y[train])
        for _ in range(epochs):  # full batch: a few thousand rows
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(1), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            score = net(xv).squeeze(1).numpy()
        ranks, positive = rankdata(score), y[test] == 1
        n_pos, n_neg = positive.sum(), (~positive).sum()
        aucs.append(float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)))
    return float(np.mean(aucs))
