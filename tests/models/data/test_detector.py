"""The public files' parametric CMS-like detector (models/data/detector.py): what becomes a track,
what is summed into which calorimeter cell, the resolutions, the grid's edge, determinism."""
import numpy as np
import pytest

from l1forge.models.data.detector import ECAL, GRID_ETA, HCAL, MAX_TRACK_PT, reconstruct, track_resolution


def p4(pt, eta, phi, m=0.0):
    pt, eta, phi = (np.atleast_1d(np.asarray(v, float)) for v in (pt, eta, phi))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + m * m)], axis=1)


def run(momenta, pids, events=None, seed=0):
    events = np.zeros(len(pids), np.int64) if events is None else np.asarray(events)
    return reconstruct(np.random.default_rng(seed), events, momenta, np.asarray(pids))


def eta_phi(out):
    pt = np.hypot(out[:, 0], out[:, 1])
    return np.arcsinh(out[:, 2] / pt), np.mod(np.arctan2(out[:, 1], out[:, 0]), 2 * np.pi)


def cell_centre(calo, eta, phi):
    n_eta, n_phi = calo.cells()
    w_eta, w_phi = 2 * GRID_ETA / n_eta, 2 * np.pi / n_phi
    return -GRID_ETA + (np.floor((eta + GRID_ETA) / w_eta) + 0.5) * w_eta, (np.floor(phi / w_phi) + 0.5) * w_phi


def test_grids_have_the_sources_cell_counts():
    assert ECAL.cells() == (342, 359)  # floor(6 / 0.0175), floor(2 pi / 0.0175)
    assert HCAL.cells() == (272, 285)


def test_charged_hadrons_and_leptons_stay_single_particles_with_the_track_resolution():
    n = 20000
    mom = p4(np.full(n, 50.0), np.full(n, 0.3), np.linspace(0, 6, n), m=0.1396)
    ev, out = run(mom, np.full(n, 211), events=np.arange(n))
    assert len(out) == n and (ev == np.arange(n)).all()
    ratio = out[:, 3] / mom[:, 3]
    np.testing.assert_allclose(out, mom * ratio[:, None], rtol=1e-12)  # one scale factor: direction and mass kept
    assert abs(ratio.mean() - 1) < 3e-4
    assert ratio.std() == pytest.approx(float(track_resolution(np.array(50.0))), rel=0.03)
    for lepton in (11, -13):
        _, out = run(p4(500.0, 0.0, 1.0), [lepton])
        assert len(out) == 1 and out[0, 3] == pytest.approx(500.0, rel=0.1)


def test_charged_hadrons_above_the_track_limit_become_hcal_cells():
    _, out = run(p4(MAX_TRACK_PT + 30, 0.5, 1.0, m=0.1396), [-211])
    eta, phi = eta_phi(out)
    ceta, cphi = cell_centre(HCAL, 0.5, 1.0)
    assert len(out) == 1 and eta[0] == pytest.approx(ceta) and phi[0] == pytest.approx(cphi)
    assert out[0, 3] ** 2 - (out[0, :3] ** 2).sum() == pytest.approx(0, abs=1e-6 * out[0, 3] ** 2)


def test_photons_in_one_ecal_cell_merge_and_other_cells_stay_apart():
    ceta, cphi = cell_centre(ECAL, 0.2, 2.0)
    mom = p4([40.0, 30.0, 20.0], [ceta - 0.003, ceta + 0.003, ceta + 0.05], [cphi + 0.002, cphi - 0.002, cphi])
    ev, out = run(mom, [22, 22, 22])
    assert len(out) == 2
    eta, phi = eta_phi(out)
    merged = int(np.argmin(np.abs(eta - ceta)))
    assert eta[merged] == pytest.approx(ceta) and phi[merged] == pytest.approx(cphi)
    assert out[merged, 3] == pytest.approx(mom[0, 3] + mom[1, 3], rel=0.1)


def test_neutral_hadrons_go_to_hcal_with_its_resolution():
    n = 20000
    mom = p4(np.full(n, 100.0), np.zeros(n), np.linspace(0.1, 6, n), m=0.9396)
    _, out = run(mom, np.full(n, 2112), events=np.arange(n))
    eta, _ = eta_phi(out)
    ceta, _ = cell_centre(HCAL, 0.0, 0.0)
    assert np.allclose(eta, ceta)
    e_cell = mom[0, 3] * np.cosh(ceta) / np.cosh(0.0)  # the cell is massless at its centre, same energy
    ratio = out[:, 3] / e_cell
    expected = float(HCAL.relative_resolution(np.array(e_cell)))
    assert 0.3 < expected < 0.4  # 1.2 sqrt(7 / E) at 100 GeV: particle flow's neutral-hadron share
    assert ratio.std() == pytest.approx(expected, rel=0.05)
    assert abs(ratio.mean() - 1) < 0.02
    assert (ratio > 0).all()


def test_calorimeters_end_at_the_grid_edge_but_tracks_do_not():
    mom = p4([50.0, 50.0, 50.0], [3.2, -3.5, 3.5], [1.0, 1.0, 1.0])
    ev, out = run(mom, [22, 130, 211])
    assert len(out) == 1 and eta_phi(out)[0][0] == pytest.approx(3.5, abs=1e-9)


def test_unlisted_particles_are_dropped_and_events_stay_apart():
    mom = p4([10.0, 10.0, 10.0, 10.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])
    ev, out = run(mom, [22, 22, 12, 130], events=[2, 0, 1, 2])
    assert ev.tolist() == [0, 2, 2]  # event 1 held only a neutrino; the photons of events 0 and 2 are not merged
    assert (out[:, 3] > 0).all()


def test_same_seed_same_output():
    rng = np.random.default_rng(5)
    n = 500
    mom = p4(rng.uniform(1, 300, n), rng.uniform(-3.5, 3.5, n), rng.uniform(-np.pi, np.pi, n))
    pids = rng.choice([22, 211, -211, 130, 2112, 11, 321], n)
    events = np.sort(rng.integers(0, 20, n))
    a, b, c = run(mom, pids, events, seed=1), run(mom, pids, events, seed=1), run(mom, pids, events, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert (np.diff(a[0]) >= 0).all()
