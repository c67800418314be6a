"""The shower simulator's physics, measured on generated files with the summary's own observables:
shower maximum vs ln E (PDG: t_max = ln(E/E_c) + C, C_e = -0.5, C_gamma = +0.5), lateral
containment (90 % within about one Moliere radius), resolution (the configured sampling term),
linearity, hit multiplicity."""
import numpy as np
import pytest

from l1forge.models.data.showers import generate_showers, shower_settings
from l1forge.models.data.showers.geometry import GEOMETRIES, place
from l1forge.models.data.showers.physics import sample_spots
from l1forge.models.data.showers.summary import observables, physics_table


def _table(tmp_path_factory, geometry, particle, n, energy):
    out = tmp_path_factory.mktemp("showers") / f"{geometry}_{particle}.h5"
    settings = shower_settings(geometry, particle=particle, energy=energy, spectrum="log-uniform")
    generate_showers(n, 11, out, settings, progress=False)
    return physics_table(observables(out))


@pytest.fixture(scope="module")
def ds2_electrons(tmp_path_factory):
    return _table(tmp_path_factory, "ds2", "electron", 4000, "1,100")


@pytest.fixture(scope="module")
def ds2_photons(tmp_path_factory):
    return _table(tmp_path_factory, "ds2", "photon", 4000, "1,100")


@pytest.fixture(scope="module")
def ild_photons(tmp_path_factory):
    # 1-100 GeV: at the public 10-90 GeV the longitudinal leakage of the 24 X0 deep ILD ECAL, which
    # grows with E, takes a share of the sampling term in the fit (a = 0.144 (+) c = 1.8 %)
    return _table(tmp_path_factory, "ild", "photon", 4000, "1,100")


def test_shower_maximum_grows_with_ln_e_with_the_pdg_constants(ds2_electrons, ds2_photons):
    electrons, photons = ds2_electrons["t_max_fit"], ds2_photons["t_max_fit"]
    assert len(ds2_electrons["rows"]) == 8
    assert abs(electrons["slope"] - 1.0) < 0.12 and abs(photons["slope"] - 1.0) < 0.12
    # C of t_max = ln(E/E_c) + C; measured -0.75..-0.82 and +0.50..+0.65 over two seeds and two ranges
    assert abs(electrons["pdg_constant"] - (-0.5)) < 0.4  # PDG C_e
    assert abs(photons["pdg_constant"] - 0.5) < 0.4  # PDG C_gamma
    assert 0.9 < photons["pdg_constant"] - electrons["pdg_constant"] < 1.6  # photons convert first (mean 9/7 X0)


def test_ninety_percent_of_the_energy_lies_within_about_one_moliere_radius(ild_photons, ds2_electrons):
    for row in ild_photons["rows"]:  # the point clouds record out to 18 Moliere radii
        assert 0.8 < row["r90_moliere"] < 1.3, row
    # every spot, without the readout's radial edge: the same containment
    g = GEOMETRIES["ds2"]
    spots = sample_spots(np.full(300, 50.0), "electron", g.medium, g.stochastic_term, np.random.default_rng(3))
    deposits = place(spots, g)
    radius = np.hypot(deposits.x_mm, deposits.y_mm)
    order = np.argsort(radius)
    cumulative = np.cumsum(deposits.visible_mev[order]) / deposits.visible_mev.sum()
    r90 = radius[order][np.searchsorted(cumulative, 0.9)] / g.moliere_mm[0]
    assert 0.8 < r90 < 1.3
    r95 = radius[order][np.searchsorted(cumulative, 0.95)] / g.moliere_mm[0]
    assert r95 < 2.0


def test_resolution_fit_recovers_the_configured_sampling_term(ds2_electrons, ild_photons):
    # measured over two seeds: ds2 a = 0.176-0.181 (lateral leakage beyond its 41.85 mm adds to the
    # sampling term), ild a = 0.166-0.167
    for table, geometry in ((ds2_electrons, "ds2"), (ild_photons, "ild")):
        a = GEOMETRIES[geometry].stochastic_term
        fit = table["resolution_fit"]
        assert abs(fit["stochastic"] - a) / a < 0.10, (geometry, fit)
        assert fit["constant"] < 0.03


def test_calibrated_energy_is_linear(ds2_electrons, ild_photons):
    for table in (ds2_electrons, ild_photons):
        linearity = np.array([r["linearity"] for r in table["rows"]])
        assert np.all(linearity > 0.95) and np.all(linearity < 1.01)
        assert linearity.max() - linearity.min() < 0.02


def test_hit_multiplicity_grows_with_energy(ds2_electrons, ild_photons):
    for table in (ds2_electrons, ild_photons):
        hits = [r["hits"] for r in table["rows"]]
        assert all(b > a for a, b in zip(hits, hits[1:])), hits
    points = [r["points"] for r in ild_photons["rows"]]
    assert all(b > a for a, b in zip(points, points[1:])) and points[-1] < 6000
