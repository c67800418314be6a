"""`l1forge data showers`: the public layouts, voxel order, binning XML, reproducibility for any
core count, the cache, loaders and one-line errors."""
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.models.data.showers import generate_showers, read_point_clouds, read_voxel_showers, shower_settings
from l1forge.models.data.showers.generate import binning_path, cache_key, point_width
from l1forge.models.data.showers.geometry import GEOMETRIES, Deposits, cluster_points, voxelise


def test_same_bytes_for_any_core_count_and_the_cache_is_reused(tmp_path):
    settings = shower_settings("ds2", energy="5,50")
    one = generate_showers(450, 3, tmp_path / "one.h5", settings, workers=1, progress=False)
    assert not one["cached"]
    data = (tmp_path / "one.h5").read_bytes()
    Path(one["cache"]).unlink()
    two = generate_showers(450, 3, tmp_path / "two.h5", settings, workers=2, progress=False)
    assert not two["cached"] and (tmp_path / "two.h5").read_bytes() == data
    again = generate_showers(450, 3, tmp_path / "three.h5", settings, progress=False)
    assert again["cached"] and (tmp_path / "three.h5").read_bytes() == data
    other = generate_showers(450, 4, tmp_path / "four.h5", settings, progress=False)
    assert (tmp_path / "four.h5").read_bytes() != data and not other["cached"]


def test_calochallenge_layout_and_binning(tmp_path):
    for name, voxels, n_alpha, n_r in (("ds2", 6480, 16, 9), ("ds3", 40500, 50, 18)):
        out = tmp_path / f"{name}.h5"
        generate_showers(30, 0, out, shower_settings(name), progress=False)
        with h5py.File(out, "r") as f:
            assert f["incident_energies"].shape == (30, 1) and f["showers"].shape == (30, voxels)
            assert f["showers"].dtype == np.float32
            incident = f["incident_energies"][:, 0]
            assert np.all((incident >= 1000.0) & (incident <= 1e6))  # MeV: 1 GeV - 1 TeV
            assert f.attrs["particle"] == "electron"
        root = ET.parse(binning_path(out)).getroot()
        assert root.tag == "Bins"
        (particle,) = root
        assert particle.tag == "Bin" and particle.get("pid") == "11" and particle.get("name") == "electron"
        layers = list(particle)
        assert [int(l.get("id")) for l in layers] == list(range(45))
        edges = [float(v) for v in layers[0].get("r_edges").split(",")]
        assert len(edges) == n_r + 1 and edges[0] == 0 and edges[-1] == pytest.approx(41.85)
        assert int(layers[0].get("n_bin_alpha")) == n_alpha
        incident_mev, showers, geometry = read_voxel_showers(out)
        assert geometry == name and showers.shape == (30, voxels) and np.allclose(incident_mev, incident)


def test_voxel_index_is_layer_then_angle_then_radius():
    g = GEOMETRIES["ds2"]
    # one deposit in layer 3, at 10 mm (radial bin 2 of 4.65 mm) and angle 100 degrees (bin 12 of 16 from -180)
    angle = np.deg2rad(100.0)
    deposits = Deposits(np.array([1]), np.array([3]), np.array([10 * np.cos(angle)]), np.array([10 * np.sin(angle)]),
                        np.array([0.033]))
    showers = voxelise(deposits, 2, g)
    assert showers.shape == (2, 6480)
    (hit,) = np.flatnonzero(showers[1])
    assert hit == 3 * 16 * 9 + 12 * 9 + 2
    assert showers[1, hit] == pytest.approx(1.0) and not showers[0].any()  # MeV / 0.033


def test_point_clouds_are_right_aligned_on_the_subcell_grid(tmp_path):
    out = tmp_path / "ild.h5"
    generate_showers(40, 1, out, shower_settings("ild"), progress=False)
    with h5py.File(out, "r") as f:
        events, energy, n_points = f["events"][:], f["energy"][:], f["n_points"][:]
    assert events.shape == (40, 4, 6000) and energy.shape == (40, 1)
    assert np.all((energy >= 10) & (energy <= 90))
    for ev, k in zip(events, n_points):
        assert 0 < k < 6000
        assert not ev[:, :6000 - k].any() and np.all(ev[3, 6000 - k:] > 0)  # zeros in front, then the points
    _, points = read_point_clouds(out)
    allp = np.concatenate(points)
    assert len(allp) == n_points.sum()
    assert np.all(allp[:, 1] == np.rint(allp[:, 1])) and allp[:, 1].min() >= 0 and allp[:, 1].max() <= 29
    pitch = GEOMETRIES["ild"].cell_mm / 6
    for col, (lo, hi) in ((0, (-200, 200)), (2, (-160, 240))):
        assert lo <= allp[:, col].min() and allp[:, col].max() < hi
        offset = allp[:, col] / pitch - 0.5  # sub-cell centres: integers
        assert np.abs(offset - np.rint(offset)).max() < 1e-3
    # points are visible energy in GeV: a few per cent of the photon's energy
    fraction = np.array([p[:, 3].sum() for p in points]) / energy[:, 0]
    assert np.all((fraction > 0.02) & (fraction < 0.05))


def test_clustering_sums_deposits_in_one_subcell():
    g = GEOMETRIES["ild"]
    deposits = Deposits(np.array([0, 0, 0]), np.array([5, 5, 6]), np.array([0.1, 0.2, 0.1]),
                        np.array([-39.9, -39.8, -39.9]), np.array([1.0, 2.0, 4.0]))
    points, counts = cluster_points(deposits, 1, g)
    assert counts.tolist() == [2]
    np.testing.assert_allclose(points[0][:, 3], [0.003, 0.004])
    np.testing.assert_allclose(points[0][:, 1], [5, 6])


def test_point_width_grows_only_beyond_the_public_energies():
    assert point_width(shower_settings("ild")) == 6000
    assert point_width(shower_settings("ild", energy="10,500")) > 6000


@pytest.mark.parametrize("kwargs,message", [
    ({"geometry": "ds1"}, "unknown --geometry 'ds1'; choose one of ds2, ds3, ild"),
    ({"geometry": "ds2", "particle": "pion"}, "unknown --particle 'pion'; choose one of electron, photon"),
    ({"geometry": "ds2", "energy": "0.1,10"}, "--energy 0.1,10 GeV is outside the shower model's range 1-1000 GeV (LOW <= HIGH)"),
    ({"geometry": "ild", "energy": "90,10"}, "--energy 90,10 GeV is outside the shower model's range 1-1000 GeV (LOW <= HIGH)"),
    ({"geometry": "ds2", "energy": "ten"}, "--energy must be LOW,HIGH or one energy, in GeV; got 'ten'"),
    ({"geometry": "ds2", "spectrum": "gauss"}, "--spectrum must be one of log-uniform, flat, got 'gauss'"),
    ({"geometry": "ds2", "stochastic_term": 2.0}, "--stochastic-term must be between 0.01 and 1 (a in sigma/E = a/sqrt(E/GeV)), got 2"),
])
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(L1ForgeError) as err:
        shower_settings(**kwargs)
    assert str(err.value) == message


def test_cache_key_depends_on_every_setting():
    variants = [shower_settings("ds2"), shower_settings("ds3"), shower_settings("ds2", particle="photon"),
                shower_settings("ds2", energy="1,100"), shower_settings("ds2", spectrum="flat"),
                shower_settings("ds2", stochastic_term=0.2)]
    assert len({cache_key(100, 0, s) for s in variants}) == len(variants)
    assert cache_key(100, 0, variants[0]) != cache_key(100, 1, variants[0]) != cache_key(101, 0, variants[0])


def test_cli_refuses_a_bad_option_in_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "l1forge", "data", "showers", "--out", str(tmp_path / "s.h5"),
                          "--geometry", "ds2", "--energy", "1,5000"], capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.strip() == "error: --energy 1,5000 GeV is outside the shower model's range 1-1000 GeV (LOW <= HIGH)"
    assert list(tmp_path.iterdir()) == []


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f.create_dataset(k, data=v)
    return path


@pytest.mark.parametrize("datasets,message", [
    ({"showers": np.zeros((3, 6480))}, "missing dataset 'incident_energies'"),
    ({"incident_energies": np.ones((3, 1)), "showers": np.zeros((3, 500))}, "500 voxels per shower; known geometries have 6480 (ds2), 40500 (ds3)"),
    ({"incident_energies": np.ones((3, 2)), "showers": np.zeros((3, 6480))}, "dataset 'incident_energies' has shape (3, 2), expected (N, 1)"),
    ({"incident_energies": np.ones((3, 1)), "showers": np.zeros((4, 6480))}, "dataset 'showers' has shape (4, 6480), expected (3, voxels)"),
])
def test_voxel_loader_names_what_is_wrong(tmp_path, datasets, message):
    path = _write(tmp_path / "bad.h5", **datasets)
    with pytest.raises(L1ForgeError) as err:
        read_voxel_showers(path)
    assert str(err.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize("datasets,message", [
    ({"events": np.zeros((3, 4, 10))}, "missing dataset 'energy'"),
    ({"events": np.zeros((3, 10, 4)), "energy": np.ones((3, 1))}, "dataset 'events' has shape (3, 10, 4), expected (N, 4, points)"),
    ({"events": np.zeros((3, 4, 10)), "energy": np.ones((2, 1))}, "dataset 'energy' has shape (2, 1), expected (3, 1)"),
])
def test_point_loader_names_what_is_wrong(tmp_path, datasets, message):
    path = _write(tmp_path / "bad.h5", **datasets)
    with pytest.raises(L1ForgeError) as err:
        read_point_clouds(path)
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}")


def test_summary_command_prints_the_physics_table(tmp_path):
    out = tmp_path / "ild.h5"
    generate_showers(300, 2, out, shower_settings("ild"), progress=False)
    res = subprocess.run([sys.executable, "-m", "l1forge", "data", "summary", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())
    assert "300 ild showers" in text and "resolution fit: sigma/E =" in text
    assert "made by l1forge showers v1" in text
    assert (tmp_path / "ild_physics.png").stat().st_size > 10_000


def test_summary_of_a_file_of_neither_kind_names_both_layouts(tmp_path):
    path = _write(tmp_path / "other.h5", x=np.zeros(3))
    res = subprocess.run([sys.executable, "-m", "l1forge", "data", "summary", str(path)], capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.strip() == (f"error: {path}: neither a jet file ('jetConstituentList', 'jets': the hls4ml LHC "
                                  "jet layout; 'particles', 'jets': JetClass-like) nor a shower file "
                                  "('incident_energies', 'showers': CaloChallenge; 'events', 'energy': CaloClouds)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.h5"]
