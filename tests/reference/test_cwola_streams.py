"""CWoLa on mock stellar streams: the sky geometry against galpy's own conversions, the mock's
physics (a cold stream among hot foreground and halo stars), the signal region, the selection
figures on known cases, a learning signal (the top-N stars are far purer than the signal region),
and the entry point's errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from l1forge.reference.cwola_streams.__main__ import main
from l1forge.reference.cwola_streams.cwola import COL, regions
from l1forge.reference.cwola_streams.mock import (PatchSpec, _galactic_velocity_to_pm, isochrone_colour, mock_patch)
from l1forge.reference.cwola_streams.run import SMALL, run_mock, select
from l1forge.reference.cwola_streams.sky import (galactic_to_icrs, local_basis, lonlat, patch_rotation,
                                                 proper_motion_vector, to_frame, unit)


def test_galactic_rotation_and_proper_motions_agree_with_galpy():
    from galpy.util import coords

    rot = galactic_to_icrs()
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-9)
    ra, dec = lonlat(rot @ np.array([0.0, 0.0, 1.0]))  # the north Galactic pole
    assert ra == pytest.approx(192.86, abs=0.01) and dec == pytest.approx(27.13, abs=0.01)
    rng = np.random.default_rng(0)
    l, b, d = rng.uniform(0, 360, 50), rng.uniform(-80, 80, 50), rng.uniform(0.5, 20, 50)
    v = rng.normal(0, 100, (50, 3))
    pm_lb = coords.vxvyvz_to_vrpmllpmbb(v[:, 0], v[:, 1], v[:, 2], l, b, d, degree=True)  # (v_r, mu_l*, mu_b)
    pm_radec = coords.pmllpmbb_to_pmrapmdec(pm_lb[:, 1], pm_lb[:, 2], l, b, degree=True, epoch=None)
    radec = coords.lb_to_radec(l, b, degree=True, epoch=None)
    mu = _galactic_velocity_to_pm(v, unit(radec[:, 0], radec[:, 1]), d)
    e_ra, e_dec = local_basis(radec[:, 0], radec[:, 1])
    np.testing.assert_allclose(np.sum(mu * e_ra, axis=1), pm_radec[:, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.sum(mu * e_dec, axis=1), pm_radec[:, 1], rtol=1e-6, atol=1e-9)


def test_patch_frame_centres_and_keeps_proper_motions():
    rotation = patch_rotation(150.0, 40.0)
    phi, lam, mu_phi, mu_lam = to_frame(rotation, unit(np.array([150.0]), np.array([40.0])),
                                        proper_motion_vector(np.array([150.0]), np.array([40.0]), np.array([3.0]),
                                                             np.array([-4.0])))
    np.testing.assert_allclose([phi[0], lam[0], mu_phi[0], mu_lam[0]], [0, 0, 3.0, -4.0], atol=1e-9)
    # A patch at (0, 0) is the ICRS frame itself: components come through unchanged, away from the centre too.
    phi, lam, mu_phi, mu_lam = to_frame(patch_rotation(0.0, 0.0), unit(np.array([10.0]), np.array([20.0])),
                                        proper_motion_vector(np.array([10.0]), np.array([20.0]), np.array([3.0]),
                                                             np.array([-4.0])))
    np.testing.assert_allclose([phi[0], lam[0], mu_phi[0], mu_lam[0]], [10, 20, 3.0, -4.0], atol=1e-9)
    # A patch at (180, 0): longitudes shift by 180 degrees, proper motions keep their signs.
    phi, lam, mu_phi, mu_lam = to_frame(patch_rotation(180.0, 0.0), unit(np.array([170.0]), np.array([-5.0])),
                                        proper_motion_vector(np.array([170.0]), np.array([-5.0]), np.array([1.5]),
                                                             np.array([2.5])))
    np.testing.assert_allclose([phi[0], lam[0], mu_phi[0], mu_lam[0]], [-10, -5, 1.5, 2.5], atol=1e-9)
    # Away from the centre the total proper motion is kept.
    rng = np.random.default_rng(1)
    ra, dec = rng.uniform(140, 160, 20), rng.uniform(30, 50, 20)
    mu = proper_motion_vector(ra, dec, rng.normal(size=20), rng.normal(size=20))
    _, _, a, b = to_frame(rotation, unit(ra, dec), mu)
    np.testing.assert_allclose(np.hypot(a, b), np.linalg.norm(mu, axis=1), rtol=1e-9)


def test_isochrone_shape():
    m = np.linspace(4.5, 8, 20)
    assert np.all(np.diff(isochrone_colour(m, -1.6)) > 0)  # the main sequence reddens as it fades
    assert np.all(isochrone_colour(m, -2.0) < isochrone_colour(m, -0.3))  # metal-poor stars are bluer


@pytest.fixture(scope="module")
def patch():
    return mock_patch(7, PatchSpec(n_background=40_000, n_stream=1500))


def test_mock_stream_is_cold_and_thin(patch):
    table, drawn = patch
    stream = table[:, COL["stream"]] == 1
    assert 50 < stream.sum() < 1500 and (~stream).sum() > 10_000
    assert np.all(table[:, COL["g"]] < 20.2)
    assert np.all(np.hypot(table[:, COL["phi"]], table[:, COL["lambda"]]) < 15.0)
    for col in ("mu_phi_star", "mu_lambda"):
        assert table[stream, COL[col]].std() < 0.2 * table[~stream, COL[col]].std()
    # Thin: across its own track the stream is a fraction of a degree to a degree wide.
    xy = table[stream][:, [COL["phi"], COL["lambda"]]]
    spread = np.linalg.svd(xy - xy.mean(0), compute_uv=False) / np.sqrt(len(xy))
    assert spread[1] < 1.5 and spread[0] > 3 * spread[1]
    assert 5.0 < drawn["anchor"]["distance"] < 12.0


def test_regions_and_selection_on_known_cases(patch):
    table, _ = patch
    sr, sb = regions(table, 1.0, 3.0)
    assert not np.any(sr & sb) and sr.sum() > 0 and sb.sum() > sr.sum() / 2
    stream_mu = table[table[:, COL["stream"]] == 1, COL["mu_lambda"]]
    assert np.mean(sr[table[:, COL["stream"]] == 1]) > 0.55  # ~68 % of a Gaussian within 1 sigma
    assert np.all(np.abs(table[sr, COL["mu_lambda"]] - np.median(stream_mu)) <= stream_mu.std() + 1e-12)
    truth = np.r_[np.ones(10), np.zeros(90)].astype(np.int64)
    perfect = select(truth.astype(float), truth, 20)
    assert perfect["purity"] == 0.5 and perfect["completeness"] == 1.0
    assert select(-truth.astype(float), truth, 20)["purity"] == 0.0


def test_cwola_finds_the_stream():
    config = replace(SMALL, patch=PatchSpec(n_background=60_000, n_stream=1500),
                     classifier=replace(SMALL.classifier, epochs=15, patience=5), top_n=50)
    result = run_mock(11, config)
    assert result["signal_region_purity"] < 0.25
    assert result["purity"] > 2 * result["signal_region_purity"] and result["purity"] > 0.4


def test_entry_point_errors(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["run", "--out", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
