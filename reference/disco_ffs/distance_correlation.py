"""Exact distance correlation (Szekely, Rizzo, Bakirov 2007), the V-statistic, in its affinely
invariant form as DisCo-FFS scores features: the feature vector is whitened by its sample
covariance first, so the score of a set of features does not depend on their units or on linear
mixtures of them. The label is one-dimensional, where whitening is standardising, which distance
correlation ignores anyway.

For n events, a_ij = |x_i - x_j| (after whitening) and b_ij = |y_i - y_j|; A, B are their double-
centred matrices; dCov^2 = mean(A * B), dVar^2(x) = mean(A * A), and
dCor^2 = dCov^2 / sqrt(dVar^2(x) dVar^2(y)). Because B is centred, mean(A * B) = mean(a * B), and
mean(A * A) = mean(a^2) - 2 mean_i(row mean_i(a)^2) + mean(a)^2: one distance matrix per candidate.

Scoring many candidates c against a fixed set S: the whitened distance of (S, c) is the whitened
distance of S plus (r_i - r_j)^2 / var(r), with r the residual of c regressed on S (the Schur
complement of the covariance). A candidate that is a linear function of S (var(r) ~ 0) scores 0,
as the authors' NaN does."""
from __future__ import annotations

import numpy as np
import torch

_DEPENDENT = 1e-10  # var(residual) / var(candidate) below this: linearly dependent on S


def _centred(distance: torch.Tensor) -> torch.Tensor:
    return distance - distance.mean(-1, keepdim=True) - distance.mean(-2, keepdim=True) + distance.mean((-2, -1), keepdim=True)


def _variance(distance: torch.Tensor) -> torch.Tensor:
    """mean(A * A) of the double-centred distance matrix, from the raw one(s) (..., n, n)."""
    return ((distance ** 2).mean((-2, -1)) - 2 * (distance.mean(-1) ** 2).mean(-1) + distance.mean((-2, -1)) ** 2)


def _whitened(x: torch.Tensor) -> torch.Tensor | None:
    """x (n, k) centred and multiplied by the inverse Cholesky factor of its covariance; None when
    a column is constant or (nearly) a linear function of the others. Columns are standardised
    first, so the test does not depend on their units."""
    centred = x - x.mean(0)
    if x.shape[1] == 0:
        return centred
    scale = centred.square().mean(0).sqrt()
    if not torch.all(scale > 0):
        return None
    standard = centred / scale
    factor, info = torch.linalg.cholesky_ex(standard.T @ standard / len(x))
    if info.item() != 0 or torch.diagonal(factor).min() ** 2 <= _DEPENDENT:
        return None
    return torch.linalg.solve_triangular(factor, standard.T, upper=False).T


def distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """The affinely invariant distance correlation of x (n,) or (n, k) and y (n,) or (n, m);
    0 where either is degenerate (constant, or linearly dependent columns)."""
    xs = [torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(len(v), -1)) for v in (x, y)]
    whitened = [_whitened(v) for v in xs]
    if any(w is None for w in whitened):
        return 0.0
    a, b = (torch.cdist(w, w) for w in whitened)
    denominator = torch.sqrt(_variance(a) * _variance(b))
    if denominator <= 0:
        return 0.0
    return float(torch.sqrt(torch.clamp((a * _centred(b)).mean() / denominator, min=0.0)))


class CandidateScorer:
    """Distance correlations of (S, c) with a binary label y, for many candidate columns c, on one
    block of events: the shared parts (S's whitened distances, the label's centred matrix) once.

    The label's centred matrix B takes one value per pair of classes, so mean(D * B) needs only the
    sums of D's rows over each class: one matrix product D @ onehot(y), which also gives the row
    means; and mean(D^2) is exact: mean over S's part plus mean((r_i - r_j)^2) = 2 var(r) = 2."""

    def __init__(self, selected: np.ndarray, label: np.ndarray):
        label = np.asarray(label)
        if not np.isin(label, (0, 1)).all():
            raise ValueError("the label must be 0 or 1")
        s = torch.as_tensor(np.asarray(selected, dtype=np.float64).reshape(len(label), -1))
        self.n = len(label)
        self.basis = _whitened(s)  # None: S itself is degenerate; every candidate scores 0
        if self.basis is not None:
            self.squared = torch.cdist(self.basis, self.basis) ** 2
        self.onehot = torch.as_tensor(np.stack([label == 0, label == 1], 1).astype(np.float32))
        self.onehot_t = self.onehot.to(torch.float64).T
        y = torch.as_tensor(label.astype(np.float64).reshape(-1, 1))
        b = torch.cdist(y, y)
        self.label_variance = float(_variance(b))
        centred = _centred(b)
        first = [int(np.argmax(label == k)) for k in (0, 1)]  # B[i, j] depends on the classes only
        self.block_value = torch.tensor([[float(centred[first[p], first[q]]) for q in (0, 1)] for p in (0, 1)],
                                        dtype=torch.float64)

    def scores(self, candidates: np.ndarray) -> np.ndarray:
        """dCor((S, c), y) for each column c of `candidates` (n, m). The n x n work runs in float32
        in place (the row sums per class too, by BLAS), the totals in float64: agreement with the
        float64 definition to about 1e-7 (tests)."""
        out = np.zeros(candidates.shape[1])
        if self.basis is None or self.label_variance <= 0:
            return out
        c = torch.as_tensor(np.asarray(candidates, dtype=np.float64))
        c = c - c.mean(0)
        residual = c - self.basis @ (self.basis.T @ c) / self.n
        variance = (residual ** 2).mean(0)
        usable = variance > _DEPENDENT * torch.clamp((c ** 2).mean(0), min=1e-300)
        standardised = (residual / variance.sqrt()).T.to(torch.float32)
        squared = self.squared.to(torch.float32)
        mean_square = float(self.squared.mean()) + 2.0
        for column in torch.nonzero(usable).flatten().tolist():
            r = standardised[column]
            distance = (r[:, None] - r[None, :]).square_().add_(squared).sqrt_()
            by_class = (distance @ self.onehot).to(torch.float64)  # (n, 2): row sums over each class
            blocks = self.onehot_t @ by_class                       # (2, 2): sums of D over class pairs
            covariance = float((blocks * self.block_value).sum()) / self.n ** 2
            rows = by_class.sum(1) / self.n
            variance_x = mean_square - 2 * float((rows ** 2).mean()) + float(rows.mean()) ** 2
            out[column] = np.sqrt(max(covariance / np.sqrt(variance_x * self.label_variance), 0.0))
        return out
