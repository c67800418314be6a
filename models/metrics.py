"""Classifier metrics without extra dependencies: accuracy, one-vs-rest ROC curves and AUC."""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) over all thresholds."""
    order = np.argsort(-scores, kind="mergesort")
    pos = np.asarray(positive, dtype=bool)[order]
    tpr = np.concatenate([[0], np.cumsum(pos) / max(pos.sum(), 1)])
    fpr = np.concatenate([[0], np.cumsum(~pos) / max((~pos).sum(), 1)])
    return fpr, tpr


def classification_metrics(logits: np.ndarray, labels: np.ndarray, classes) -> dict:
    probs = softmax(np.asarray(logits, dtype=np.float64))
    return {
        "accuracy": float((probs.argmax(axis=1) == labels).mean()),
        "auc": {c: roc_auc(probs[:, i], labels == i) for i, c in enumerate(classes)},
    }
