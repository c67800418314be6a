"""What a sample of networks says about a jet: the posterior-predictive probability, its accuracy,
and the uncertainty measures of the authors' evaluation (binary entropies, in nats):
  - predictive entropy H[mean_k p_k] (total uncertainty),
  - expected entropy mean_k H[p_k] (what each member is unsure of),
  - mutual information = their difference >= 0 (the members' disagreement: the epistemic part,
    0 when every member says the same),
and the spread (standard deviation over members) of the top probability."""
from __future__ import annotations

import numpy as np


def binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def ensemble_metrics(probabilities: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """`probabilities` (members, jets) of top; `labels` (jets,) 1 = top, or None for jets of
    neither class (out of distribution), which have no accuracy."""
    p = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
    mean = p.mean(0)
    predictive = binary_entropy(mean)
    expected = binary_entropy(p).mean(0)
    out = {"members": int(len(p)), "predictive_entropy": float(predictive.mean()),
           "expected_entropy": float(expected.mean()),
           "mutual_information": float(np.maximum(predictive - expected, 0.0).mean()),
           "probability_std": float(p.std(0).mean()), "mean_top_probability": float(mean.mean())}
    if labels is not None:
        out["accuracy"] = float(((mean > 0.5) == (labels == 1)).mean())
        out["member_accuracy"] = [float(((q > 0.5) == (labels == 1)).mean()) for q in p]
    return out
