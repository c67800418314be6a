"""The generated jets have the physics of the public hls4ml LHC jet dataset."""
import awkward as ak
import h5py
import numpy as np
import pytest
from scipy import stats

from l1forge.models.data.detector import ECAL, GRID_ETA, HCAL
from l1forge.models.data.jet_features import invariant_mass
from l1forge.models.data.jets import PRESETS, JetSettings, _truth_mask, event_batches, generate_jets
from l1forge.models.data.layout import CLASSES, CONSTITUENTS_KEY, JETS_KEY, J, P, PARTICLE_FEATURE_NAMES, JET_FEATURES
from l1forge.models.data.summary import mass_peak

from tests.samples import PHYSICS_JETS_PER_CLASS

pytestmark = pytest.mark.tools  # every test here runs g++, Verilator, Pythia or Chromium


def _read(path):
    with h5py.File(path, "r") as f:
        return {
            "cons": np.asarray(f[CONSTITUENTS_KEY]),
            "jets": np.asarray(f[JETS_KEY]),
            "pnames": [n.decode() for n in f["particleFeatureNames"]],
            "jnames": [n.decode() for n in f["jetFeatureNames"]],
        }


@pytest.fixture(scope="module")
def sample(jet_sample):
    """The default (public-like) generator: 400 jets per class of detector-level R = 0.4 jets."""
    return _read(jet_sample)


@pytest.fixture(scope="module")
def v1_sample(tmp_path_factory):
    """The v1 preset (whole R = 0.8 jets as constituent lists): 40 jets per class."""
    path = tmp_path_factory.mktemp("v1") / "v1.h5"
    generate_jets(40, seed=5, out=path, progress=False, settings=PRESETS["v1"])
    return _read(path)


def _labels(sample):
    return sample["jets"][:, -6:-1].argmax(axis=1)


def _leading_mass(cons, n=32):
    """Invariant mass of the leading n listed constituents."""
    lead = cons[:, :n].astype(np.float64)
    return invariant_mass(lead[:, :, [P["px"], P["py"], P["pz"], P["e"]]].sum(axis=1))  # padding is all zero


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
    assert np.all((pt > 800) & (pt < 1600))
    assert np.all(np.abs(eta) < 2)


def test_spectrum_partons_and_bosons_at_one_tev(sample):
    """The hard partons at 1 TeV +- 1 % (pTHat 990-1010; truth pT = j_pt / j_ptfrac); the bosons
    and tops around it (recoil against initial-state radiation spreads them)."""
    labels = _labels(sample)
    truth = sample["jets"][:, J["j_pt"]] / sample["jets"][:, J["j_ptfrac"]]
    for cls in ("gluon", "quark"):
        t = truth[labels == CLASSES.index(cls)]
        assert np.all((t > 990 - 0.5) & (t < 1010 + 0.5)), (cls, t.min(), t.max())
    for cls in ("W", "Z", "top"):
        assert 970 < np.median(truth[labels == CLASSES.index(cls)]) < 1030, cls
    assert 970 < np.median(sample["jets"][:, J["j_pt"]]) < 1030


def test_v3_constituent_lists_are_a_cone_of_04(v3_sample):
    """--cone 0.4 (v3): every listed constituent lies within Delta R 0.4 of the list's axis, and the
    axis is the direction of the listed constituents' sum (a stable cone)."""
    sample = v3_sample
    c = sample["cons"].astype(np.float64)
    real = c[:, :, P["e"]] > 0
    assert c[:, :, P["deltaR"]][real].max() < 0.4
    c = c[real.sum(axis=1) < c.shape[1]]  # lists that hold the whole cone (not cut at 150)
    p4 = c[:, :, [P["px"], P["py"], P["pz"], P["e"]]].sum(axis=1)
    axis_eta = c[:, 0, P["eta"]] - c[:, 0, P["etarel"]]
    axis_phi = c[:, 0, P["phi"]] - c[:, 0, P["phirel"]]
    np.testing.assert_allclose(np.arcsinh(p4[:, 2] / np.hypot(p4[:, 0], p4[:, 1])), axis_eta, atol=1e-4)
    dphi = np.angle(np.exp(1j * (np.arctan2(p4[:, 1], p4[:, 0]) - axis_phi)))
    np.testing.assert_allclose(dphi, 0, atol=1e-4)
    assert len(c) > 0.95 * len(real)
    assert np.all(real.sum(axis=1) <= sample["jets"][:, J["j_multiplicity"]])  # a part of the R = 0.8 jet


@pytest.mark.parametrize("cls,median,p90", [("W", (70, 84), 92), ("Z", (78, 92), 101), ("top", (115, 150), 175)])
def test_leading_32_mass_has_no_high_tail(sample, cls, median, p90):
    """The mass of the leading 32 listed constituents: peaked near the boson/top mass, without the
    tail that the whole R = 0.8 jet's underlying event and radiation give (v1: W 90th percentile
    111 GeV; 86 here, 81 in the public files)."""
    m = _leading_mass(sample["cons"])[_labels(sample) == CLASSES.index(cls)]
    assert median[0] < np.median(m) < median[1], np.median(m)
    assert np.percentile(m, 90) < p90, np.percentile(m, 90)


def test_v3_mean_multiplicity_is_the_public_files(v3_sample):
    """v3's 0.4 GeV generator-level threshold was tuned to the public lists' multiplicity."""
    mult = (v3_sample["cons"][:, :, P["e"]] > 0).sum(axis=1)
    assert 46 < mult.mean() < 53  # public 49.4


def test_constituents_are_pt_ordered_and_zero_padded(sample):
    c = sample["cons"]
    pt = c[:, :, P["pt"]]
    assert np.all(np.diff(pt, axis=1) <= 0)
    real = c[:, :, P["e"]] > 0
    assert np.all(np.diff(real.astype(int), axis=1) <= 0)  # real slots first, then padding
    assert np.all(c[~real] == 0)


def test_v1_lists_every_constituent_and_they_sum_to_the_jet(v1_sample):
    """v1 (cone 0): where all constituents are stored, their four-momenta add up to the jet's
    pT, eta, mass."""
    c, jets = v1_sample["cons"].astype(np.float64), v1_sample["jets"]
    real = c[:, :, P["e"]] > 0
    assert np.array_equal(real.sum(axis=1), np.minimum(jets[:, J["j_multiplicity"]], 150))
    assert c[:, :, P["deltaR"]][real].max() > 0.4  # the whole jet, not a cone
    assert np.all((jets[:, J["j_pt"]] > 800) & (jets[:, J["j_pt"]] < 1200))
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
    # Anti-kT (R <= 0.8) clusters in rapidity and phi; phi is the same in the pseudorapidity metric
    # of the features (soft massive tracks can sit far off in pseudorapidity), so it stays bounded.
    assert np.all(np.abs(x["phirel"]) < 1.2)
    # The 3D opening angle never exceeds deltaR (the (eta, phi) metric is the sphere's scaled by
    # cosh(eta) >= 1), so cos theta_rel >= cos(deltaR).
    assert np.all(x["costhetarel"] >= np.cos(x["deltaR"]) - 1e-5)
    assert np.all(x["costhetarel"] <= 1.0)
    # Most pT sits close to the axis.
    assert np.average(x["deltaR"], weights=x["pt"]) < 0.2
    # The pT-weighted principal axis lies along +phi_rot: per jet, the weighted spread along
    # phi_rot is the larger one and the weighted mean phi_rot is not negative (as the public files).
    w = c[:, :, P["pt"]] * real
    assert np.all((w * c[:, :, P["phirot"]] ** 2).sum(1) >= (w * c[:, :, P["etarot"]] ** 2).sum(1) * (1 - 1e-4))
    assert np.all((w * c[:, :, P["phirot"]]).sum(1) >= -1e-3 * w.sum(1))
    assert np.all(np.abs((w * c[:, :, P["phirot"]] * c[:, :, P["etarot"]]).sum(1)) < 1e-3 * w.sum(1))


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


def _boson_decays(cls, settings, batches=20):
    """(|cos theta*| of the first daughter in the boson rest frame about its flight direction, boson
    mass) for the truth bosons of `batches` event batches of the generator's own event source, shower
    and hadronisation off (the decays are made before them)."""
    quiet = ("PartonLevel:ISR = off", "PartonLevel:FSR = off", "PartonLevel:MPI = off", "HadronLevel:all = off")
    source = event_batches(cls, 5, settings, extra=quiet)
    cosines, masses = [], []
    for _ in range(batches):
        prt = next(source).prt
        index = ak.local_index(prt.id)[_truth_mask(prt, cls, ak)]
        for ev, bosons in enumerate(index):
            p4 = np.stack([ak.to_numpy(prt.p[ev][f]) for f in ("px", "py", "pz", "e")], axis=-1)
            for i in ak.to_numpy(bosons):
                boson, quark = p4[i], p4[int(prt.daughter1[ev][i])]
                mass = invariant_mass(boson)
                beta, gamma = boson[:3] / boson[3], boson[3] / mass
                along = beta / np.linalg.norm(beta)
                # the daughter's momentum boosted into the boson rest frame
                rest = quark[:3] + ((gamma - 1) * (quark[:3] @ along) - gamma * np.linalg.norm(beta) * quark[3]) * along
                cosines.append(abs(rest @ along) / np.linalg.norm(rest))
                masses.append(mass)
    source.close()
    return np.array(cosines), np.array(masses)


@pytest.mark.parametrize("cls,pole,width", [("W", 80.4, 2.1), ("Z", 91.2, 2.5)])
def test_bosons_decay_isotropically_within_the_madgraph_mass_window(cls, pole, width):
    """The public W and Z were made undecayed by MadGraph (bwcutoff 15) and decayed by Pythia: no
    spin correlation. Pythia's own ffbar -> VV decays are not isotropic, and its own mass range
    leaves bosons far off shell; both must be switched off by default and on by option."""
    cos, mass = _boson_decays(cls, JetSettings())
    assert len(cos) > 1500
    assert stats.kstest(cos, "uniform").pvalue > 1e-3
    assert np.all(np.abs(mass - pole) < 15.2 * width)
    cos_v1, mass_v1 = _boson_decays(cls, PRESETS["v1"])
    assert stats.kstest(cos_v1, "uniform").pvalue < 1e-3
    assert np.mean(np.abs(mass_v1 - pole) > 15.2 * width) > 0.02


@pytest.fixture(scope="module")
def v3_sample(tmp_path_factory):
    """The v3 preset (generator particles above 0.4 GeV, 0.4 cones of R = 0.8 jets): 100 jets per class."""
    path = tmp_path_factory.mktemp("v3") / "v3.h5"
    generate_jets(100, seed=6, out=path, progress=False, settings=PRESETS["v3"])
    return _read(path)


def _on_grid(cons, calo):
    """Which constituents sit at the centre of a cell of this calorimeter's grid."""
    n_eta, n_phi = calo.cells()
    u = (cons[:, :, P["eta"]].astype(np.float64) + GRID_ETA) / (2 * GRID_ETA / n_eta)
    v = np.mod(cons[:, :, P["phi"]].astype(np.float64), 2 * np.pi) / (2 * np.pi / n_phi)
    return (np.abs(u - np.floor(u) - 0.5) < 0.01) & (np.abs(v - np.floor(v) - 0.5) < 0.01)


def test_neutrals_are_calorimeter_cells(sample, v3_sample):
    """Photons and neutral hadrons come out as ECAL / HCAL cells at the cells' centres; a
    generator-level list (v3) has (almost) nothing there (chance 1 in 2,500 per particle and grid)."""
    real = sample["cons"][:, :, P["e"]] > 0
    ecal, hcal = _on_grid(sample["cons"], ECAL)[real], _on_grid(sample["cons"], HCAL)[real]
    assert 0.15 < ecal.mean() < 0.6, ecal.mean()
    assert 0.01 < hcal.mean() < 0.2, hcal.mean()
    gen_real = v3_sample["cons"][:, :, P["e"]] > 0
    assert (_on_grid(v3_sample["cons"], ECAL) | _on_grid(v3_sample["cons"], HCAL))[gen_real].mean() < 0.005


def test_lists_are_r04_jets_with_about_the_public_multiplicity(sample):
    """The lists are whole anti-kT R = 0.4 jets: 99.985 % of the public lists' leading 32
    constituents lie within Delta R 0.40 of the axis, 99.8 % of ours (the jet axis is their
    momentum sum, not the centre of the catchment area). Their mean multiplicity is 42 (public
    49.4: the one known shortfall of this setting; v3 matched it with a tuned threshold)."""
    c = sample["cons"]
    real = c[:, :32, P["e"]] > 0
    assert (c[:, :32, P["deltaR"]][real] > 0.4).mean() < 0.005
    # In the (rapidity, phi) metric anti-kT clusters in, every constituent of an R = 0.4 jet lies
    # close to the axis (the pseudorapidity of soft massive tracks can be far off).
    whole = (c[:, :, P["e"]] > 0).sum(axis=1) < c.shape[1]
    c = c[whole].astype(np.float64)
    real = c[:, :, P["e"]] > 0
    jet = c[:, :, [P["px"], P["py"], P["pz"], P["e"]]].sum(axis=1)
    e, pz = np.where(real, c[:, :, P["e"]], 1.0), np.where(real, c[:, :, P["pz"]], 0.0)
    dy = 0.5 * np.log((e + pz) / (e - pz)) - 0.5 * np.log((jet[:, 3] + jet[:, 2]) / (jet[:, 3] - jet[:, 2]))[:, None]
    dr = np.hypot(dy, c[:, :, P["phirel"]])[real]
    assert dr.max() < 0.55 and (dr > 0.4).mean() < 0.005, (dr.max(), (dr > 0.4).mean())
    assert 38 < (c[:, :, P["e"]] > 0).sum(axis=1).mean() < 50
