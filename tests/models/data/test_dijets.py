"""`l1forge data dijets`: the physics of the LHC-Olympics-like events (the signal's resonance
masses, the trigger, the lighter-jet ordering, the signal-region background sample), the cache and
the command's errors."""
import hashlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.models.data.dijets import (DIJET_FEATURES, SIGNAL_REGION, SR_MHAT_WINDOW, DijetSettings,
                                        generate_dijets, sr_window_coverage)

pytestmark = pytest.mark.tools  # Pythia
COL = {n: i for i, n in enumerate(DIJET_FEATURES)}
COUNTS = {"background": 600, "signal": 300, "sr_background": 150}


@pytest.fixture(scope="module")
def dijets(session_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("dijets") / "dijets.h5"
    with pytest.MonkeyPatch.context() as env:  # module scope: set up before the per-test cache isolation
        env.setenv("L1FORGE_CACHE", str(session_cache))
        generate_dijets(COUNTS, seed=4, out=out, progress=False)
    with h5py.File(out, "r") as f:
        return out, {k: f[k][:] for k in COUNTS}


def test_events_have_the_asked_counts_and_pass_the_trigger(dijets):
    _, events = dijets
    for kind, rows in events.items():
        assert rows.shape == (COUNTS[kind], len(DIJET_FEATURES))
        assert np.all(np.maximum(rows[:, COL["pt_j1"]], rows[:, COL["pt_j2"]]) >= 1.2)  # the leading jet, TeV
        assert np.all(rows[:, COL["mj1"]] <= rows[:, COL["mj2"]])  # jet 1 is the lighter
        assert np.all((rows[:, COL["tau21_j1"]] > 0) & (rows[:, COL["tau21_j2"]] > 0))


def test_signal_shows_its_three_resonances(dijets):
    _, events = dijets
    signal, background = events["signal"], events["background"]
    assert 3.35 < np.median(signal[:, COL["mjj"]]) < 3.6  # W' at 3.5 TeV (final-state radiation lowers m_jj)
    assert 0.45 < np.median(signal[:, COL["mj2"]]) < 0.56  # X at 500 GeV
    assert 0.08 < np.median(signal[:, COL["mj1"]]) < 0.17  # Y at 100 GeV plus underlying event in R = 1
    # Two-prong jets: lower tau21 than QCD's.
    for col in ("tau21_j1", "tau21_j2"):
        assert np.median(signal[:, COL[col]]) < np.median(background[:, COL[col]]) - 0.1
    # QCD falls steeply from the trigger threshold: most events below the signal region.
    assert np.mean(background[:, COL["mjj"]] < SIGNAL_REGION[0]) > 0.6


def test_signal_region_background_sample(dijets):
    _, events = dijets
    sr = events["sr_background"]
    assert np.all((sr[:, COL["mjj"]] >= SIGNAL_REGION[0]) & (sr[:, COL["mjj"]] <= SIGNAL_REGION[1]))
    assert np.all((sr[:, COL["mhat"]] >= SR_MHAT_WINDOW[0]) & (sr[:, COL["mhat"]] <= SR_MHAT_WINDOW[1]))
    # The window of the hard process' mass holds most plain QCD events of the signal region (88.6 % of
    # the 8,513 of the benchmark's 60k events; ISR and the underlying event give a low-mHat tail).
    assert sr_window_coverage(events["background"]) > 0.8


def test_second_call_is_served_from_the_cache(dijets, tmp_path):
    out, _ = dijets
    again = generate_dijets(COUNTS, seed=4, out=tmp_path / "again.h5", progress=False)
    assert again["cached"]
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(out) == digest(tmp_path / "again.h5")


def test_settings_and_counts_are_checked(tmp_path):
    with pytest.raises(L1ForgeError, match="m_X \\+ m_Y < m_W'"):
        DijetSettings(x_mass=3000, y_mass=600).check()
    with pytest.raises(L1ForgeError, match="number of signal events must be >= 0"):
        generate_dijets({"background": 10, "signal": -1, "sr_background": 0}, 0, tmp_path / "x.h5")
    run = subprocess.run([sys.executable, "-m", "l1forge.compiler.cli", "data", "dijets", "--out", str(tmp_path / "y.h5"),
                          "--detector", "atlas"], capture_output=True, text=True)
    assert run.returncode != 0 and "--detector must be one of" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr and not (tmp_path / "y.h5").exists()
