"""`l1forge data jetclass`: the physics of the JetClass-like jets (resonance masses, the jet window,
particle identity and charge, track impact parameters and their smearing), determinism and the
command's errors."""
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.models.data.jetclass import (CLASSES, JF, N_PARTICLES, PARTICLE_FEATURES, PF, PID_FLAGS, D0_RESOLUTION,
                                          JetClassSettings, generate_jetclass, impact_parameters, particle_rows,
                                          summarize_jetclass)

pytestmark = pytest.mark.tools  # Pythia


@pytest.fixture(scope="module")
def sample(jetclass_sample):
    with h5py.File(jetclass_sample, "r") as f:
        return f["particles"][:], f["jets"][:]


def test_every_class_in_the_jet_window_with_its_particles(sample):
    particles, jets = sample
    assert particles.shape == (60 * len(CLASSES), N_PARTICLES, len(PARTICLE_FEATURES))
    assert np.array_equal(np.bincount(jets[:, JF["label"]].astype(int)), np.full(len(CLASSES), 60))
    assert np.all((jets[:, JF["jet_pt"]] >= 500) & (jets[:, JF["jet_pt"]] < 1000))
    assert np.all(np.abs(jets[:, JF["jet_eta"]]) < 2)
    real = particles[..., PF["part_energy"]] > 0
    assert np.array_equal(real.sum(1), jets[:, JF["jet_nparticles"]].astype(int))
    assert np.all(real[:, :-1] >= real[:, 1:])  # padded at the end
    pt = np.hypot(particles[..., 0], particles[..., 1])
    assert np.all(np.diff(pt, axis=1)[real[:, 1:]] <= 0)  # pT-ordered
    assert np.all(pt[real] > 0.5)
    # The particles sum to the jet, or nearly where it has more than 128 (then the softest are cut).
    summed = np.hypot(particles[..., 0].sum(1), particles[..., 1].sum(1))
    whole = jets[:, JF["jet_nparticles"]] < N_PARTICLES
    assert whole.mean() > 0.95
    assert np.allclose(summed[whole], jets[whole, JF["jet_pt"]], rtol=1e-4)
    assert np.allclose(summed[~whole], jets[~whole, JF["jet_pt"]], rtol=2e-2)


def test_resonance_masses_and_prongs(sample):
    _, jets = sample
    median = {cls: np.median(jets[jets[:, JF["label"]] == k, JF["jet_mass"]]) for k, cls in enumerate(CLASSES)}
    for cls in ("Hbb", "Hcc", "Hgg"):
        assert 110 < median[cls] < 135, (cls, median[cls])
    assert 160 < median["Tbqq"] < 190
    assert 72 < median["Wqq"] < 90
    assert 82 < median["Zqq"] < 100
    assert median["QCD"] < 0.8 * median["Wqq"]  # a falling QCD mass spectrum, no peak


def test_identity_charge_and_neutral_tracks(sample):
    particles, _ = sample
    real = particles[particles[..., PF["part_energy"]] > 0]
    flags = real[:, [PF[f] for f in PID_FLAGS]]
    assert np.all(np.isin(flags, (0, 1))) and np.all(flags.sum(1) == 1)
    charged = real[:, PF["part_charge"]] != 0
    expected = real[:, PF["part_isChargedHadron"]] + real[:, PF["part_isElectron"]] + real[:, PF["part_isMuon"]]
    assert np.array_equal(charged, expected == 1)
    assert np.all(np.isin(real[:, PF["part_charge"]], (-1, 0, 1)))
    track = real[:, PF["part_d0val"]:PF["part_dzerr"] + 1]
    assert np.all(track[~charged] == 0) and np.all(track[charged][:, [1, 3]] > 0)
    assert 0.3 < flags[:, 2].mean() < 0.5  # photons, mostly from pi0 decays
    assert 0.4 < charged.mean() < 0.7


def test_heavy_flavour_jets_carry_displaced_tracks(jetclass_sample):
    summary = summarize_jetclass(jetclass_sample)
    share = {cls: s["displaced_share"] for cls, s in summary.items()}
    # b hadrons (c tau ~ 0.45 mm) displace more tracks than c hadrons (D: 0.12-0.31 mm), and both
    # more than light jets (K0S and Lambda only).
    assert share["Hbb"] > 1.2 * share["Hcc"] > 1.2 * share["Hgg"], share
    assert share["Hbb"] > 2 * share["QCD"], share


def test_impact_parameters_of_known_tracks():
    p4 = np.array([[0.0, 2.0, 0.0, 2.0], [1.0, 1.0, 1.0, 3 ** 0.5], [3.0, 0.0, 4.0, 5.0]])
    vertex = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 2.0]])
    d0, dz = impact_parameters(vertex, p4)
    # 1 mm beside a track along y (CMS' sign); a vertex on the line through the origin; 2 mm along z.
    assert np.allclose(d0, [-1.0, 0.0, 0.0]) and np.allclose(dz, [0.0, 0.0, 2.0])


def test_prompt_tracks_are_smeared_by_their_stated_error():
    rng = np.random.default_rng(0)
    jets = []
    for _ in range(200):  # jets of 100 prompt charged pions
        pt = np.exp(rng.uniform(np.log(0.6), np.log(200), 100))
        p4 = np.column_stack([pt, np.zeros(100), np.zeros(100), pt])
        jets.append(particle_rows(p4, np.full(100, 211), np.zeros((100, 3)), p4.sum(0), lambda pid: 1.0, rng))
    rows = np.concatenate(jets)
    pull = rows[:, PF["part_d0val"]] / rows[:, PF["part_d0err"]]
    assert abs(pull.std() - 1) < 0.03 and abs(pull.mean()) < 0.03
    err = rows[:, PF["part_d0err"]]
    pts = np.hypot(rows[:, 0], rows[:, 1])
    assert np.allclose(err, np.hypot(D0_RESOLUTION[0], D0_RESOLUTION[1] / pts))
    assert err.min() > 0.0099 and err.max() < 0.16


def test_same_seed_same_jets(tmp_path, monkeypatch):
    outs = []
    for k in range(2):
        monkeypatch.setenv("L1FORGE_CACHE", str(tmp_path / f"cache{k}"))
        outs.append(tmp_path / f"j{k}.h5")
        generate_jetclass(3, seed=9, out=outs[-1], classes=("Hcc", "QCD"), workers=1 + k, progress=False)
    with h5py.File(outs[0], "r") as a, h5py.File(outs[1], "r") as b:
        assert np.array_equal(a["particles"][:], b["particles"][:]) and np.array_equal(a["jets"][:], b["jets"][:])


def test_summary_command_reads_the_file(jetclass_sample):
    run = subprocess.run([sys.executable, "-m", "l1forge.compiler.cli", "data", "summary", str(jetclass_sample),
                          "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary == summarize_jetclass(jetclass_sample)  # JSON keeps Python floats exactly
    assert list(summary) == list(CLASSES) and summary["Hbb"]["jets"] == 60


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(L1ForgeError, match="--n-per-class must be >= 1"):
        generate_jetclass(0, 0, tmp_path / "x.h5")
    with pytest.raises(L1ForgeError, match="unknown class Hxx"):
        generate_jetclass(5, 0, tmp_path / "x.h5", classes=("Hbb", "Hxx"))
    with pytest.raises(L1ForgeError, match="--jet-pt must be LOW,HIGH"):
        JetClassSettings(jet_pt=(900.0, 500.0)).check()
    run = subprocess.run([sys.executable, "-m", "l1forge.compiler.cli", "data", "jetclass", "--out", str(tmp_path / "y.h5"),
                          "--classes", "Hbb,top"], capture_output=True, text=True)
    assert run.returncode != 0 and "unknown class top" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr and not (tmp_path / "y.h5").exists()
