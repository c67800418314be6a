"""The shared jet substructure (reference/substructure.py): N-subjettiness on known clouds, tau
ratios tell two- and three-prong clouds from one-prong ones, and clouds too small for three axes
give NaN."""
import numpy as np
import pytest

from l1forge.reference.substructure import exclusive_kt_axes, massless_p4, n_subjettiness, tau_ratios

pytestmark = pytest.mark.tools  # fastjet


def _prongs(centres, n_jets=40, per_prong=8, spread=0.01, seed=0):
    """Clouds (eta_rel, phi_rel, pT_rel) of tight prongs at the given (eta, phi) centres."""
    rng = np.random.default_rng(seed)
    k = len(centres) * per_prong
    x = np.zeros((n_jets, k, 3))
    for p, (eta, phi) in enumerate(centres):
        rows = slice(p * per_prong, (p + 1) * per_prong)
        x[:, rows, 0] = eta + spread * rng.standard_normal((n_jets, per_prong))
        x[:, rows, 1] = phi + spread * rng.standard_normal((n_jets, per_prong))
        x[:, rows, 2] = rng.uniform(0.5, 1.5, (n_jets, per_prong)) / k
    return x, np.ones((n_jets, k), bool)


def test_n_subjettiness_of_two_particles():
    # Two equal particles 0.4 apart: one axis (their sum, midway) leaves each 0.2 away; two axes none.
    x = np.array([[[0.2, 0.0, 0.5], [-0.2, 0.0, 0.5], [0.0, 0.0, 0.0]]])
    p4 = massless_p4(x, np.array([[True, True, False]]))
    tau1, tau2 = n_subjettiness(p4, exclusive_kt_axes(p4, counts=(1, 2)), beta=1.0)
    assert tau1[0] == pytest.approx(0.2 / 0.8, rel=1e-3) and tau2[0] == pytest.approx(0.0, abs=1e-9)


def test_tau_ratios_tell_the_prongs():
    one = tau_ratios(*_prongs([(0.0, 0.0)]))
    two = tau_ratios(*_prongs([(0.25, 0.0), (-0.25, 0.0)]))
    three = tau_ratios(*_prongs([(0.3, 0.0), (-0.15, 0.26), (-0.15, -0.26)]))
    assert np.median(two["tau21"]) < 0.2 < np.median(one["tau21"])
    assert np.median(three["tau32"]) < 0.2 < np.median(two["tau32"])


def test_small_clouds_give_nan():
    x, mask = _prongs([(0.0, 0.0)], n_jets=3, per_prong=4)
    mask[0, 2:] = False  # 2 particles: no three axes
    ratios = tau_ratios(x, mask)
    assert np.isnan(ratios["tau21"][0]) and np.all(np.isfinite(ratios["tau21"][1:]))
