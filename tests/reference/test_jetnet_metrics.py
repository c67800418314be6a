"""JetNet metrics on known cases: a sample against itself and against a shifted copy, the relative
mass of a two-particle jet, the EFP set's size, the Frechet and kernel distances' sign of life."""
from __future__ import annotations

import numpy as np
import pytest

from l1forge.reference.jetnet_metrics import (efps_to_degree_4, fpd, kl_metrics, kpd, quantiled_kl, relative_mass,
                                              w1_efp_graphs, w1_metrics)


def _clouds(n: int, seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    particles = np.zeros((n, 12, 3), np.float32)
    mask = np.zeros((n, 12), bool)
    for k, m in enumerate(rng.integers(4, 13, n)):
        pt = rng.exponential(1.0, m)
        particles[k, :m] = np.c_[rng.normal(shift, 0.1, m), rng.normal(0, 0.1, m), pt / pt.sum()]
        mask[k, :m] = True
    return particles, mask


def test_relative_mass_of_two_particles():
    particles = np.array([[[0.1, 0.2, 0.6], [-0.2, -0.1, 0.4]]])
    expected = np.sqrt(2 * 0.6 * 0.4 * (np.cosh(0.3) - np.cos(0.3)))
    assert relative_mass(particles, np.ones((1, 2), bool))[0] == pytest.approx(expected, rel=1e-9)


def test_efp_sets():
    assert len(w1_efp_graphs()) == 5  # jetnet's W1EFP: prime, 4 vertices, 4 edges
    particles, mask = _clouds(20, 0)
    values = efps_to_degree_4(particles, mask)
    assert values.shape == (20, 35)
    assert len(np.unique(values.round(12), axis=1)[0]) == 35  # all distinct


def test_metrics_of_a_sample_against_itself_and_a_shifted_one():
    real, real_mask = _clouds(1500, 1)
    same, same_mask = _clouds(1500, 2)
    shifted, shifted_mask = _clouds(1500, 3, shift=0.05)
    near = w1_metrics(real, real_mask, same, same_mask, 1000, 4)
    far = w1_metrics(real, real_mask, shifted, shifted_mask, 1000, 4)
    assert far["W1P_per_feature"]["eta_rel"]["mean"] == pytest.approx(0.05, abs=0.006)
    assert near["W1P_per_feature"]["eta_rel"]["mean"] < 0.006
    assert w1_metrics(real, real_mask, real, real_mask, 1500, 1)["W1M"]["mean"] < near["W1M"]["mean"] + 1e-12
    kl_near, kl_far = kl_metrics(real, real_mask, same, same_mask), kl_metrics(real, real_mask, shifted, shifted_mask)
    assert kl_far["eta_rel"] > 10 * kl_near["eta_rel"] and quantiled_kl(np.arange(100.0), np.arange(100.0)) == 0.0
    a, b = efps_to_degree_4(real, real_mask), efps_to_degree_4(same, same_mask)
    c = efps_to_degree_4(*_clouds(1500, 4, shift=0.0)) * 1.2  # every EFP 20 % larger
    near_fpd = fpd(a, b, 300, 1500)
    assert 0 <= near_fpd["value"] < 0.2 * fpd(a, c, 300, 1500)["value"] and len(near_fpd["sizes"]) == 10
    single = fpd(a, b, 200, 200)  # one batch size: no extrapolation, the mean
    assert single["sizes"] == [200] and np.isnan(single["error"]) and single["value"] > 0
    assert abs(kpd(a, b, 1000)["median"]) < 0.2 * kpd(a, c, 1000)["median"]
