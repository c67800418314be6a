"""Dijet events like the LHC Olympics 2020 R&D data set (arXiv 2101.08320), with Pythia 8 + FastJet.

The R&D set is 1M QCD dijet events and 100k W' -> X Y, X -> qq, Y -> qq events (m_W' = 3.5 TeV,
m_X = 500 GeV, m_Y = 100 GeV) at 13 TeV, passed through Delphes, clustered into anti-kT R = 1.0
jets and kept when the leading jet has pT > 1.2 TeV. Ours, stated:
- QCD: Pythia's HardQCD:all with pTHat > 1.1 TeV (below the trigger, so the trigger and not the
  generator cut shapes the spectrum); ISR, FSR and multiple interactions on.
- Signal: Pythia's f fbar' -> W' with the W' decaying only to X Y, where X is Pythia's H0 (id 35)
  and Y its H+ (id 37) with the masses above, narrow (widths 0.1 % of the mass), decaying to
  light-quark pairs with equal rates (u dbar, c sbar for Y). Only the kinematics of a W' -> X Y
  -> (qq)(qq) chain matter here, not the couplings.
- Detector: the CMS-like parametric detector of the jet data (models/data/detector.py), or the
  generator's visible particles (detector="none"); not Delphes.
- "sr_background" is extra QCD made only in a window of the hard process' mass around the signal
  region (mHat in SR_MHAT_WINDOW), then cut to the signal region in m_jj: the "perfect background
  sample" of an idealised anomaly detector. Every event carries its mHat, so the share of signal
  region events the window misses can be measured on the plain QCD sample (`sr_window_coverage`):
  it holds 88.6 % of them (60k events; initial-state radiation and the underlying event add mass
  to R = 1 jets, a tail to low mHat); (2.6, 5.0) TeV would hold 97 % at twice the cost.

Per event: the two leading jets; the columns of DIJET_FEATURES, masses and momenta in TeV, jet 1
the lighter of the two (as R-ANODE and CATHODE order them), tau21 = tau2 / tau1 with beta = 1 on
exclusive-kT axes of the leading 150 constituents (those axes
do not minimise tau_N, so tau21 exceeds 1 for about 10 % of QCD jets, whose two hardest kT prongs
lie close together).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from l1forge.compiler.atomic import atomic_path
from l1forge.compiler.errors import L1ForgeError
from l1forge.reference.substructure import exclusive_kt_axes

from .detector import DETECTORS
from .jet_features import invariant_mass, kinematics, n_subjettiness, pad_constituents
from .jets import _common_lines, _final_state, _flat, _new_pythia, _seed_lines, chunk_seed
from .parallel import from_cache, iter_chunks

DIJETS_VERSION = "1"  # bump when the physics or the layout changes: it invalidates caches
KINDS = ("background", "signal", "sr_background")
DIJET_FEATURES = ("mjj", "mj1", "mj2", "tau21_j1", "tau21_j2", "pt_j1", "pt_j2", "mhat")
SIGNAL_REGION = (3.3, 3.7)  # TeV, m_jj: R-ANODE's and CATHODE's signal region
SR_MHAT_WINDOW = (3.0, 4.1)  # TeV: where "sr_background" is generated
CHUNK_EVENTS = 500  # accepted events per work unit
EVENTS_PER_BATCH = 50
MIN_JET_PT = 100.0  # GeV: jets below are not jets of the event (the second jet must pass it)
# The kT clustering of a jet's constituents into its N-subjettiness axes: a radius this large
# never merges a constituent with the beam, so the axes are the last N kT pseudo-jets.
KT_AXES_RADIUS = 10.0


@dataclass(frozen=True)
class DijetSettings:
    """What is simulated (the defaults: the R&D set's choices, as far as they are ours to make)."""
    w_prime_mass: float = 3500.0  # GeV
    x_mass: float = 500.0
    y_mass: float = 100.0
    pt_hat_min: float = 1100.0  # GeV, the QCD generator cut
    trigger_pt: float = 1200.0  # GeV, the leading jet
    radius: float = 1.0
    detector: str = "cms"
    isr: bool = True
    mpi: bool = True
    # Read by the shared final-state and Pythia set-up of models/data/jets.py:
    min_particle_pt: float = 0.0
    bw_cutoff: float = 0.0

    def check(self) -> None:
        if not (0 < self.x_mass and 0 < self.y_mass and self.x_mass + self.y_mass < self.w_prime_mass):
            raise L1ForgeError(f"the signal needs 0 < m_Y and m_X + m_Y < m_W', got m_X = {self.x_mass:g}, "
                               f"m_Y = {self.y_mass:g}, m_W' = {self.w_prime_mass:g} GeV")
        if not 0 < self.pt_hat_min <= self.trigger_pt:
            raise L1ForgeError(f"the QCD pTHat cut must be in (0, trigger pT = {self.trigger_pt:g}] GeV, got "
                               f"{self.pt_hat_min:g}")
        if self.detector not in DETECTORS:
            raise L1ForgeError(f"--detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}")

    def key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))


def _narrow(pid: int, mass: float) -> list[str]:
    width = 1e-3 * mass
    return [f"{pid}:m0 = {mass}", f"{pid}:mWidth = {width}", f"{pid}:mMin = {mass - 10 * width}",
            f"{pid}:mMax = {mass + 10 * width}"]


def _process_lines(kind: str, settings: DijetSettings) -> list[str]:
    if kind == "signal":
        return (["NewGaugeBoson:ffbar2Wprime = on", f"34:m0 = {settings.w_prime_mass}",
                 f"34:mMin = {settings.x_mass + settings.y_mass + 10}", "34:oneChannel = 1 1.0 100 35 37"]
                + _narrow(35, settings.x_mass) + _narrow(37, settings.y_mass)
                + ["35:oneChannel = 1 0.25 100 1 -1", "35:addChannel = 1 0.25 100 2 -2",
                   "35:addChannel = 1 0.25 100 3 -3", "35:addChannel = 1 0.25 100 4 -4",
                   "37:oneChannel = 1 0.5 100 2 -1", "37:addChannel = 1 0.5 100 4 -3"])
    lines = ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {settings.pt_hat_min}"]
    if kind == "sr_background":
        lo, hi = SR_MHAT_WINDOW
        lines += [f"PhaseSpace:mHatMin = {1000 * lo}", f"PhaseSpace:mHatMax = {1000 * hi}"]
    return lines


def _leading_pairs(batch, settings: DijetSettings, rng: np.random.Generator, fastjet, ak):
    """(jet 1 four-momentum, jet 2, constituents 1, constituents 2, mHat) of every event of a Pythia
    batch whose leading jet passes the trigger (and both jets have two constituents); jets ordered
    by pT here."""
    particles = _final_state(batch.prt, settings, rng, ak)
    cluster = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, settings.radius))
    jets, jet_off = _flat(cluster.inclusive_jets(min_pt=MIN_JET_PT), ak)
    cons4, cons_off = _flat(ak.flatten(cluster.constituents(min_pt=MIN_JET_PT), axis=1), ak)
    pt = np.hypot(jets[:, 0], jets[:, 1])
    mhat = ak.to_numpy(batch.info.mHat) / 1000.0
    for ev in range(len(batch)):
        j0, j1 = jet_off[ev], jet_off[ev + 1]
        if j1 - j0 < 2:
            continue
        lead = j0 + np.argsort(-pt[j0:j1], kind="stable")[:2]
        cons = [cons4[cons_off[j]:cons_off[j + 1]] for j in lead]
        if pt[lead[0]] >= settings.trigger_pt and min(map(len, cons)) >= 2:  # tau21 needs two subjets
            yield jets[lead[0]], jets[lead[1]], cons[0], cons[1], mhat[ev]


def _tau21(constituents: list[np.ndarray]) -> np.ndarray:
    cons = pad_constituents(constituents)
    tau1, tau2 = n_subjettiness(cons, exclusive_kt_axes(cons, KT_AXES_RADIUS, (1, 2)), beta=1.0)
    return np.divide(tau2, tau1, out=np.zeros_like(tau1), where=tau1 > 0)


def generate_dijet_chunk(kind: str, seed: int, n_events: int, settings: DijetSettings) -> np.ndarray:
    """n_events accepted events of one kind as rows of DIJET_FEATURES (one core)."""
    import awkward as ak
    import fastjet
    import pythia8mc

    lines = _common_lines(settings) + _process_lines(kind, settings) + _seed_lines(seed)
    pythia = _new_pythia(lines, kind, settings, pythia8mc)
    rng = np.random.default_rng(seed)  # the detector's randomness
    found = []
    while len(found) < n_events:
        for pair in _leading_pairs(pythia.nextBatch(EVENTS_PER_BATCH), settings, rng, fastjet, ak):
            mjj = invariant_mass(pair[0] + pair[1]) / 1000.0
            if kind != "sr_background" or SIGNAL_REGION[0] <= mjj <= SIGNAL_REGION[1]:
                found.append(pair)
    found = found[:n_events]
    jets = np.stack([np.stack([a, b]) for a, b, *_ in found])  # (n, 2, 4), pT-ordered
    tau21 = np.stack([_tau21([p[2 + j] for p in found]) for j in (0, 1)], axis=1)
    mass = invariant_mass(jets) / 1000.0
    lighter = np.argmin(mass, axis=1)
    order = np.stack([lighter, 1 - lighter], axis=1)
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    mass, tau21, pt = take(mass), take(tau21), take(kinematics(jets)["pt"] / 1000.0)
    mjj = invariant_mass(jets.sum(axis=1)) / 1000.0
    mhat = np.array([p[4] for p in found])
    rows = np.column_stack([mjj, mass[:, 0], mass[:, 1], tau21[:, 0], tau21[:, 1], pt[:, 0], pt[:, 1], mhat])
    return rows.astype(np.float32)


def cache_key(counts: dict[str, int], seed: int, settings: DijetSettings) -> str:
    text = f"dijets:{DIJETS_VERSION}:{sorted(counts.items())}:{seed}:{settings.key()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plan(counts: dict[str, int], seed: int, settings: DijetSettings) -> list[tuple[str, int, int, DijetSettings]]:
    plan = []
    for kind in KINDS:
        for index, lo in enumerate(range(0, counts[kind], CHUNK_EVENTS)):
            plan.append((kind, chunk_seed(seed, f"dijet-{kind}", index), min(CHUNK_EVENTS, counts[kind] - lo), settings))
    return plan


def generate_dijets(counts: dict[str, int], seed: int, out: str | Path, workers: int | None = None,
                    progress: bool = True, settings: DijetSettings = DijetSettings()) -> dict:
    """Write the events of every kind (counts: kind -> accepted events) to `out` (HDF5: one
    (n, len(DIJET_FEATURES)) float32 data set per kind); reuse the cache. Returns where it came from."""
    for kind in KINDS:
        if counts.get(kind, -1) < 0:
            raise L1ForgeError(f"the number of {kind} events must be >= 0, got {counts.get(kind)}")
    if counts["background"] + counts["signal"] < 1:
        raise L1ForgeError("ask for at least one background or signal event")
    settings.check()
    counts = {k: counts[k] for k in KINDS}
    cached, hit, _ = from_cache("dijets", cache_key(counts, seed, settings), out,
                                lambda path: _generate_to(path, counts, seed, workers, progress, settings))
    return {"path": str(out), "cache": str(cached), "cached": hit}


def _generate_to(path: Path, counts: dict[str, int], seed: int, workers: int | None, progress: bool,
                 settings: DijetSettings) -> None:
    plan = _plan(counts, seed, settings)
    rows = list(iter_chunks(plan, generate_dijet_chunk, label="generating dijets", total=sum(counts.values()),
                            size=lambda args: args[2], workers=workers, progress=progress))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for kind in KINDS:
            mine = [r for args, r in zip(plan, rows) if args[0] == kind]
            data = np.concatenate(mine) if mine else np.zeros((0, len(DIJET_FEATURES)), np.float32)
            f.create_dataset(kind, data=data, compression="gzip", track_times=False)
        f.attrs["feature_names"] = np.array(DIJET_FEATURES, dtype="S")
        f.attrs["generator"] = f"l1forge dijets v{DIJETS_VERSION} (Pythia 8, FastJet anti-kT R={settings.radius:g})"
        f.attrs["signal_region_tev"] = np.array(SIGNAL_REGION)
        f.attrs["seed"] = seed
        for k, v in asdict(settings).items():
            f.attrs[k] = v


def sr_window_coverage(background: np.ndarray) -> float:
    """The share of plain QCD events in the signal region whose mHat lies in SR_MHAT_WINDOW: how
    much of the signal-region background "sr_background" represents."""
    col = DIJET_FEATURES.index
    in_sr = (background[:, col("mjj")] >= SIGNAL_REGION[0]) & (background[:, col("mjj")] <= SIGNAL_REGION[1])
    mhat = background[in_sr, col("mhat")]
    if not len(mhat):
        raise L1ForgeError("no background event lies in the signal region")
    return float(np.mean((mhat >= SR_MHAT_WINDOW[0]) & (mhat <= SR_MHAT_WINDOW[1])))
