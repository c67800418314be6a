"""Credible balls in function space, as the authors evaluate them: around the posterior mean
f_bar (the mean of the sampled networks on the evaluation points), the radius r is the (1 - alpha)
quantile of the samples' squared L2 distances d_k = mean_x (f_k(x) - f_bar(x))^2; the ball covers
the truth when mean_x (f_true(x) - f_bar(x))^2 <= r. The diameter reported is 2 sqrt(r) (in the
units of f)."""
from __future__ import annotations

import numpy as np


def credible_ball(samples: np.ndarray, truth: np.ndarray, alpha: float = 0.05) -> dict:
    """`samples` (K, points) sampled functions, `truth` (points,): radius, diameter, coverage, and
    the squared L2 risk of the posterior mean."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = samples.mean(0)
    distances = ((samples - mean) ** 2).mean(1)
    radius = float(np.quantile(distances, 1 - alpha))
    risk = float(((np.asarray(truth, dtype=np.float64) - mean) ** 2).mean())
    return {"radius": radius, "diameter": 2 * float(np.sqrt(radius)), "covered": bool(risk <= radius),
            "risk": risk}
