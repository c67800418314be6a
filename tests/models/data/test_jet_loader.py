"""models.data: reading public-layout files, constituent selection, standardisation, splits, errors."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.models.data.layout import JET_FEATURES, P, PARTICLE_FEATURE_NAMES
from l1forge.models.data.loader import load_jets, read_jet_file, select_constituents


def write_public_like(path, n=200, slots=150, seed=0, dtype="<f8"):
    """A file shaped like the Zenodo files: float64, extra image keys, pT-ordered constituents."""
    rng = np.random.default_rng(seed)
    cons = np.zeros((n, slots, 16))
    mult = rng.integers(3, 40, n)
    for i in range(n):
        pt = np.sort(rng.exponential(20.0, mult[i]))[::-1] + 0.5
        cons[i, :mult[i], P["pt"]] = pt
        cons[i, :mult[i], P["etarel"]] = rng.normal(0, 0.2, mult[i])
        cons[i, :mult[i], P["phirel"]] = rng.normal(0, 0.2, mult[i])
        cons[i, :mult[i], P["e"]] = pt * 1.3
        cons[i, :mult[i], P["ptrel"]] = pt / pt.sum()
    jets = np.zeros((n, 59))
    labels = rng.integers(0, 5, n)
    jets[np.arange(n), 53 + labels] = 1
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = cons.astype(dtype)
        f["jets"] = jets.astype(dtype)
        f["jetFeatureNames"] = np.array(JET_FEATURES, dtype="S")
        f["particleFeatureNames"] = np.array(PARTICLE_FEATURE_NAMES, dtype="S")
        f["jetImage"] = np.zeros((n, 4, 4))
    return cons, labels


def test_read_round_trip(tmp_path):
    cons, labels = write_public_like(tmp_path / "a.h5")
    got, y = read_jet_file(tmp_path / "a.h5")
    assert got.dtype == np.float32 and got.shape == cons.shape
    np.testing.assert_array_equal(got, cons.astype(np.float32))
    np.testing.assert_array_equal(y, labels)


@pytest.mark.tools
def test_generated_file_loads(jet_sample):
    data = load_jets(jet_sample, n_constituents=8, features="3")
    n = sum(len(s.y) for s in (data.train, data.val, data.test))
    assert n == 2000 and data.train.x.shape[1:] == (8, 3)
    assert set(np.unique(data.train.y)) == {0, 1, 2, 3, 4}


def test_selection_applies_pt_cut_before_truncation_and_pads():
    cons = np.zeros((2, 6, 16), np.float32)
    cons[0, :5, P["pt"]] = [50, 10, 3, 1.5, 1.0]
    cons[0, :5, P["etarel"]] = [1, 2, 3, 4, 5]
    cons[1, :2, P["pt"]] = [2.5, 2.0]  # 2.0 is not above the cut
    x, mask = select_constituents(cons, 4, "3", min_pt=2.0)
    assert x.shape == (2, 4, 3)
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False]]
    np.testing.assert_array_equal(x[0, :, 0], [50, 10, 3, 0])
    np.testing.assert_array_equal(x[0, :, 1], [1, 2, 3, 0])
    np.testing.assert_array_equal(x[1, :, 0], [2.5, 0, 0, 0])
    x16, _ = select_constituents(cons, 8, "16")
    assert x16.shape == (2, 8, 16)
    xrel, _ = select_constituents(cons, 2, "3rel")
    assert np.all(xrel[..., 0] == 0)  # ptrel column of this synthetic input is zero


def test_standardised_splits_are_deterministic_and_disjoint(tmp_path):
    write_public_like(tmp_path / "a.h5", n=300, seed=1)
    write_public_like(tmp_path / "b.h5", n=100, seed=2)
    a = load_jets([tmp_path / "a.h5", tmp_path / "b.h5"], n_constituents=16, seed=7)
    b = load_jets([tmp_path / "a.h5", tmp_path / "b.h5"], n_constituents=16, seed=7)
    c = load_jets([tmp_path / "a.h5", tmp_path / "b.h5"], n_constituents=16, seed=8)
    assert (len(a.train.y), len(a.val.y), len(a.test.y)) == (240, 80, 80)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.test.x, c.test.x)
    real = a.train.x[a.train.mask]
    np.testing.assert_allclose(real.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(real.std(axis=0), 1, atol=1e-4)
    assert np.all(a.train.x[~a.train.mask] == 0)
    rows = {tuple(r.ravel()) for s in (a.train, a.val, a.test) for r in s.x}
    assert len(rows) == 400


def test_empty_jets_after_cut_are_dropped(tmp_path):
    cons, _ = write_public_like(tmp_path / "a.h5", n=50)
    with h5py.File(tmp_path / "a.h5", "r+") as f:
        f["jetConstituentList"][0, :, P["pt"]] = 1.0
    data = load_jets(tmp_path / "a.h5", n_constituents=8, fractions=(1.0, 0.0, 0.0))
    assert len(data.train.y) == 49


@pytest.mark.parametrize("damage,message", [
    (lambda f: f.__delitem__("jetConstituentList"), "missing dataset 'jetConstituentList'"),
    (lambda f: f.__delitem__("jets"), "missing dataset 'jets'"),
    (lambda f: (f.__delitem__("jetConstituentList"), f.create_dataset("jetConstituentList", data=np.zeros((10, 150, 3)))),
     "dataset 'jetConstituentList' has shape (10, 150, 3)"),
    (lambda f: (f.__delitem__("jets"), f.create_dataset("jets", data=np.zeros((10, 59)))),
     "not one-hot labels"),
    (lambda f: (f.__delitem__("jets"), f.create_dataset("jets", data=np.zeros((10, 40)))),
     "dataset 'jets' has shape (10, 40)"),
])
def test_wrong_layout_is_one_clear_error(tmp_path, damage, message):
    write_public_like(tmp_path / "bad.h5", n=10)
    with h5py.File(tmp_path / "bad.h5", "r+") as f:
        damage(f)
    with pytest.raises(L1ForgeError) as err:
        load_jets(tmp_path / "bad.h5")
    assert message in str(err.value) and "bad.h5" in str(err.value)
    assert "\n" not in str(err.value)


def test_not_hdf5_and_missing_file(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(L1ForgeError, match="not an HDF5 file"):
        read_jet_file(tmp_path / "x.h5")
    with pytest.raises(L1ForgeError, match="no such jet file"):
        read_jet_file(tmp_path / "nope.h5")


def test_cli_error_is_one_line_with_nonzero_exit(tmp_path):
    write_public_like(tmp_path / "bad.h5", n=5)
    with h5py.File(tmp_path / "bad.h5", "r+") as f:
        del f["jets"]
    res = subprocess.run([sys.executable, "-m", "l1forge", "data", "summary", str(tmp_path / "bad.h5")],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0
    assert res.stderr.startswith("error: ") and "missing dataset 'jets'" in res.stderr
    assert not (tmp_path / "bad_mass.png").exists()
