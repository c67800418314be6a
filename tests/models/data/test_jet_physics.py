"""The generated jets have the physics of the public hls4ml LHC jet dataset."""
import h5py
import numpy as np
import pytest

from l1forge.models.data.layout import CLASSES, CONSTITUENTS_KEY, JETS_KEY, J, P, PARTICLE_FEATURE_NAMES, JET_FEATURES
from l1forge.models.data.summary import mass_peak

from tests.samples import PHYSICS_JETS_PER_CLASS

pytestmark = pytest.mark.tools  # every test here runs g++, Verilator, Pythia or Chromium


@pytest.fixture(scope="module")
def sample(jet_sample):
    with h5py.File(jet_sample, "r") as f:
        return {
            "cons": np.asarray(f[CONSTITUENTS_KEY]),
            "jets": np.asarray(f[JETS_KEY]),
            "pnames": [n.decode() for n in f["particleFeatureNames"]],
            "jnames": [n.decode() for n in f["jetFeatureNames"]],
        }


def test_layout_matches_public_files(sample):
    n = 5 * PHYSICS_JETS_PER_CLASS
    assert sample["cons"].shape == (n, 150, 16)
    assert sample["jets"].shape == (n, 59)
    assert sample["pnames"] == list(PARTICLE_FEATURE_NAMES)
    assert sample["jnames"] == list(JET_FEATURES)
    labels = sample["jets"][:, -6:-1]
    assert np.array_equal(labels.sum(axis=1), np.ones(n))
    assert np.all(sample["jets"][:, -1] == 0)


def test_all_classes_present_in_equal_numbers(sample):
    counts = np.bincount(sample["jets"][:, -6:-1].argmax(axis=1), minlength=5)
    assert counts.tolist() == [PHYSICS_JETS_PER_CLASS] * 5


@pytest.mark.parametrize("cls,nominal", [("W", 80.4), ("Z", 91.2), ("top", 172.7)])
def test_mass_peaks_within_ten_percent(sample, cls, nominal):
    labels = sample["jets"][:, -6:-1].argmax(axis=1)
    peak = mass_peak(sample["jets"][labels == CLASSES.index(cls), J["j_mass"]])
    assert abs(peak - nominal) < 0.10 * nominal, f"{cls} mass peak {peak:.1f} GeV"


def test_gluon_jets_have_more_constituents_than_quark_jets(sample):
    labels = sample["jets"][:, -6:-1].argmax(axis=1)
    mult = (sample["cons"][:, :, P["e"]] > 0).sum(axis=1)
    g, q = mult[labels == 0].mean(), mult[labels == 1].mean()
    assert g > 1.3 * q, (g, q)


def test_jet_kinematic_selection(sample):
    pt, eta = sample["jets"][:, J["j_pt"]], sample["jets"][:, J["j_eta"]]
    assert np.all((pt > 800) & (pt < 1200))
    assert np.all(np.abs(eta) < 2)


def test_constituents_are_pt_ordered_and_zero_padded(sample):
    c = sample["cons"]
    pt = c[:, :, P["pt"]]
    assert np.all(np.diff(pt, axis=1) <= 0)
    real = c[:, :, P["e"]] > 0
    assert np.all(np.diff(real.astype(int), axis=1) <= 0)  # real slots first, then padding
    assert np.all(c[~real] == 0)
    assert np.array_equal(real.sum(axis=1), np.minimum(sample["jets"][:, J["j_multiplicity"]], 150))


def test_constituents_sum_to_the_jet(sample):
    """Where all constituents are stored, their four-momenta add up to the jet's pT, eta, mass."""
    c, jets = sample["cons"].astype(np.float64), sample["jets"]
    full = jets[:, J["j_multiplicity"]] <= 150
    p4 = c[full][:, :, [P["px"], P["py"], P["pz"], P["e"]]].sum(axis=1)
    pt = np.hypot(p4[:, 0], p4[:, 1])
    mass = np.sqrt(np.clip(p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(1), 0, None))
    np.testing.assert_allclose(pt, jets[full, J["j_pt"]], rtol=1e-4)
    np.testing.assert_allclose(np.arcsinh(p4[:, 2] / pt), jets[full, J["j_eta"]], atol=1e-4)
    np.testing.assert_allclose(mass, jets[full, J["j_mass"]], rtol=2e-3, atol=0.05)
    np.testing.assert_allclose(c[full][:, :, P["erel"]].sum(axis=1), 1.0, rtol=1e-4)
    ptrel_sum = c[full][:, :, P["ptrel"]].sum(axis=1)  # scalar sum >= vector sum, equal if collinear
    assert np.all(ptrel_sum >= 1 - 1e-4) and np.all(ptrel_sum < 1.2) and abs(ptrel_sum.mean() - 1) < 0.02


def test_constituent_features_are_consistent(sample):
    c = sample["cons"].astype(np.float64)
    real = c[:, :, P["e"]] > 0
    x = {k: c[:, :, i][real] for k, i in P.items()}
    np.testing.assert_allclose(x["pt"], np.hypot(x["px"], x["py"]), rtol=1e-5)
    np.testing.assert_allclose(x["deltaR"], np.hypot(x["etarel"], x["phirel"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.hypot(x["etarot"], x["phirot"]), x["deltaR"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(x["eta"], np.arcsinh(x["pz"] / x["pt"]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x["costheta"], x["pz"] / np.sqrt(x["px"]**2 + x["py"]**2 + x["pz"]**2), atol=1e-5)
    jet_pt = sample["jets"][:, J["j_pt"]][:, None] * np.ones(real.shape)
    np.testing.assert_allclose(x["ptrel"], x["pt"] / jet_pt[real], rtol=1e-4)
    assert np.all(np.abs(x["phirel"]) <= np.pi)
    assert np.all(x["deltaR"] < 1.2)  # anti-kT R = 0.8 jets; slack for the recombined axis
    # The 3D opening angle never exceeds deltaR (the (eta, phi) metric is the sphere's scaled by
    # cosh(eta) >= 1), so cos theta_rel >= cos(deltaR).
    assert np.all(x["costhetarel"] >= np.cos(x["deltaR"]) - 1e-5)
    assert np.all(x["costhetarel"] <= 1.0)
    # Most pT sits close to the axis.
    assert np.average(x["deltaR"], weights=x["pt"]) < 0.2


def test_substructure_separates_two_prong_from_one_prong(sample):
    """tau21 is lower for W/Z (two prongs) than for quark/gluon jets: a check that the
    N-subjettiness axes and weights are right."""
    jets = sample["jets"]
    labels = jets[:, -6:-1].argmax(axis=1)
    tau21 = jets[:, J["j_tau2_b1"]] / jets[:, J["j_tau1_b1"]]
    assert np.median(tau21[labels == 2]) < np.median(tau21[labels == 1]) - 0.1
    d2 = jets[:, J["j_d2_b1"]]
    assert np.all(np.isfinite(d2))
    assert np.median(d2[labels == 2]) < np.median(d2[labels == 0])
    sd = jets[:, J["j_mass_mmdt"]]
    assert abs(mass_peak(sd[labels == 2]) - 80.4) < 8
