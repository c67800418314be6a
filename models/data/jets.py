"""Generate the five classes of the hls4ml LHC jet dataset with Pythia 8 and FastJet.

13 TeV pp, hard partons and bosons at pT 1 TeV +- 1 % (JetSettings.pt_hat), without initial-state
radiation and multiple interactions by default (JetSettings.isr, .mpi). The visible final-state
particles pass through the public files' parametric CMS-like detector (detector.py; or not:
JetSettings.detector), those above JetSettings.min_particle_pt are clustered with anti-kT of
JetSettings.radius (0.4), and jets in the JetSettings.jet_pt window with |eta| < 2 are matched
within dR < 0.8 to their truth object (last copy of W/Z/top; the outgoing hard parton for gluons
and light quarks). The constituent list holds the jet's constituents, or with JetSettings.cone > 0
those within that Delta R of an axis re-centred on them; the per-constituent features are taken
about the list's axis and the jet observables are those of the clustered jet. W, Z and top masses
stay within JetSettings.bw_cutoff widths of their pole (MadGraph's bwcutoff); W and Z bosons are by
default produced undecayed, handed over as Les Houches events and decayed by Pythia without spin
correlation, as the public chain (MadGraph events decayed and showered by Pythia) does.
PRESETS["v3"] is generator v3's default (generator particles above 0.4 GeV, ISR and MPI on, lists
in a 0.4 cone of R = 0.8 jets); PRESETS["v1"] the generator before issue 23 (pTHat 900-1300, jets
800-1200 GeV, the whole R = 0.8 jet, 1 GeV, Pythia's own mass ranges and decay correlations).
Work is cut into fixed chunks with seeds derived from the user's seed, so the output is
byte-identical for the same arguments whatever the core count.
"""
from __future__ import annotations

import hashlib
import itertools
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from l1forge.compiler.atomic import atomic_path
from l1forge.compiler.errors import L1ForgeError
from l1forge.reference.substructure import R0, as_awkward, exclusive_kt_axes, no_exclusive_warning

from .jet_features import (COMPUTED_JET_FEATURES, cone_constituents, constituent_features, jet_features, kinematics,
                           pad_constituents, wrap_phi)
from .layout import CLASSES, CONSTITUENTS_KEY, JET_FEATURES, JET_NAMES_KEY, JETS_KEY, PARTICLE_FEATURE_NAMES, PARTICLE_NAMES_KEY
from .detector import DETECTORS, reconstruct
from .parallel import from_cache, iter_chunks

GENERATOR_VERSION = "4"  # bump when the physics or the file layout changes: it invalidates caches
CHUNK_JETS = 200  # jets per work unit: small enough to balance cores, large enough to amortise Pythia init
EVENTS_PER_BATCH = 50
LHE_EVENTS_PER_ROUND = 400  # hard W/Z events handed over at once (about 530 matched jets)
ABS_ETA_MAX = 2.0
MATCH_DR = 0.8
MIN_PARTICLE_PT_V3 = 0.4  # GeV: v3's generator-level cone lists then hold 49.0 constituents (public 49.4)
BOSON_DECAYS = ("isotropic", "correlated")
RESONANCES = (6, 23, 24)  # top, Z, W: the masses bw_cutoff bounds


@dataclass(frozen=True)
class JetSettings:
    """What is simulated; the defaults imitate the public files (README: Jet data)."""
    # Pythia's PhaseSpace:pTHatMin/Max: the hard partons and bosons at 1 TeV +- 1 %, as the public
    # generation (MadGraph) describes its parton-level window.
    pt_hat: tuple[float, float] = (990.0, 1010.0)
    jet_pt: tuple[float, float] = (800.0, 1600.0)  # accepted jet pT window [GeV]
    # Constituents kept within this Delta R of an axis re-centred on them (0: the whole jet).
    cone: float = 0.0
    # Particles (after the detector) below this pT are dropped (v3: 0.4 GeV, a stand-in for the
    # detector that brought generator-level lists to the public multiplicity).
    min_particle_pt: float = 0.0
    # W, Z and top masses are drawn within m0 +- bw_cutoff * width, as MadGraph's default
    # bwcutoff = 15 keeps them (0: Pythia's own range, which at pT 1 TeV leaves 13 % of the W
    # bosons of ffbar -> WW and 5 % of the Z bosons more than 30 GeV off shell, up to 2 TeV).
    bw_cutoff: float = 15.0
    # "isotropic": W and Z produced undecayed, passed on as Les Houches events and decayed by
    # Pythia in their rest frame without spin correlation, as the public files' MadGraph events
    # were; "correlated": Pythia's ffbar -> WW / ZZ matrix elements with their decay angles
    # (mostly transverse bosons: more asymmetric decays). Top decays keep Pythia's W helicity.
    boson_decays: str = "isotropic"
    # "cms": the particles of the public files' parametric CMS-like detector (models/data/detector.py:
    # tracks, ECAL and HCAL cells) are clustered; "none": the generator's visible particles.
    detector: str = "cms"
    # Anti-kT radius (the pT window and the truth match apply to these jets). 0.4: the public lists
    # hold 99.985 % of their leading 32 constituents within Delta R 0.40 of the axis.
    radius: float = 0.4
    # Pythia's initial-state radiation and multiple parton interactions (underlying event). Off, the
    # seed paper's saved models score 2-3 points higher (README: Jet data): the public events
    # appear to have been made without them.
    isr: bool = False
    mpi: bool = False

    def check(self) -> None:
        for name in ("pt_hat", "jet_pt"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise L1ForgeError(f"--{name.replace('_', '-')} must be LOW,HIGH with 0 <= LOW < HIGH, got {lo:g},{hi:g}")
        if not 0 <= self.cone <= R0:
            raise L1ForgeError(f"--cone must be between 0 (the whole jet) and {R0}, got {self.cone:g}")
        if self.min_particle_pt < 0:
            raise L1ForgeError(f"--min-particle-pt must be >= 0, got {self.min_particle_pt:g}")
        if self.bw_cutoff < 0:
            raise L1ForgeError(f"--bw-cutoff must be >= 0 (0: Pythia's own mass range), got {self.bw_cutoff:g}")
        if self.boson_decays not in BOSON_DECAYS:
            raise L1ForgeError(f"--boson-decays must be one of {', '.join(BOSON_DECAYS)}, got {self.boson_decays!r}")
        if not 0.1 <= self.radius <= 1.5:
            raise L1ForgeError(f"--radius must be between 0.1 and 1.5, got {self.radius:g}")
        if self.detector not in DETECTORS:
            raise L1ForgeError(f"--detector must be one of {', '.join(DETECTORS)}, got {self.detector!r}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.to_dict().items()))


_GENERATOR_LEVEL = {"detector": "none", "radius": R0, "isr": True, "mpi": True}
PRESETS = {"public": JetSettings(),
           # Generator v3's default: generator particles above 0.4 GeV, lists in a 0.4 cone of R = 0.8 jets.
           "v3": JetSettings(cone=0.4, min_particle_pt=MIN_PARTICLE_PT_V3, **_GENERATOR_LEVEL),
           "v1": JetSettings((900.0, 1300.0), (800.0, 1200.0), 0.0, 1.0, bw_cutoff=0.0, boson_decays="correlated",
                             **_GENERATOR_LEVEL)}


def _window(text: str, option: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        lo, hi = (float(v) for v in parts)
    except ValueError:
        raise L1ForgeError(f"{option} must be two numbers LOW,HIGH in GeV, got {text!r}") from None
    return lo, hi


def jet_settings(preset: str = "public", *, pt_hat: str | None = None, jet_pt: str | None = None,
                 cone: float | None = None, min_particle_pt: float | None = None,
                 bw_cutoff: float | None = None, boson_decays: str | None = None,
                 detector: str | None = None, radius: float | None = None, isr: bool | None = None,
                 mpi: bool | None = None) -> JetSettings:
    """A preset with some settings changed (the command line's options; windows as 'LOW,HIGH')."""
    if preset not in PRESETS:
        raise L1ForgeError(f"unknown --preset {preset!r}; choose one of {', '.join(PRESETS)}")
    changes = {"pt_hat": None if pt_hat is None else _window(pt_hat, "--pt-hat"),
               "jet_pt": None if jet_pt is None else _window(jet_pt, "--jet-pt"),
               "cone": cone, "min_particle_pt": min_particle_pt, "bw_cutoff": bw_cutoff,
               "boson_decays": boson_decays, "detector": detector, "radius": radius, "isr": isr, "mpi": mpi}
    settings = replace(PRESETS[preset], **{k: v for k, v in changes.items() if v is not None})
    settings.check()
    return settings


E_CM = 13000.0  # GeV
_COMMON = [f"Beams:eCM = {E_CM}", "Print:quiet = on", "Next:numberCount = 0"]
_HADRONIC = "onIfAny = 1 2 3 4 5"
PROCESS_SETTINGS = {
    "gluon": ["HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"],
    "quark": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on"],
    "W": ["WeakDoubleBoson:ffbar2WW = on", "24:onMode = off", f"24:{_HADRONIC}"],
    "Z": ["WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", "23:onMode = off", f"23:{_HADRONIC}"],
    "top": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", f"24:{_HADRONIC}"],
}


@dataclass
class Chunk:
    """What one worker produced: padded constituents, jet 4-vectors and jet-level inputs."""
    features: np.ndarray  # (n, 150, 16) float32
    jets: np.ndarray  # (n, 59) float32
    events: int
    seconds: float


def chunk_seed(seed: int, cls: str, index: int) -> int:
    """A Pythia seed (1..900,000,000) derived from the user's seed, the class and the chunk index."""
    digest = hashlib.sha256(f"{seed}:{cls}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 900_000_000 + 1


def _flat(array, ak) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets) of a jagged awkward array of 4-momenta records with px, py, pz, E|e fields."""
    e = "E" if "E" in array.fields else "e"
    counts = ak.to_numpy(ak.num(array, axis=1))
    flat = ak.flatten(array, axis=1)
    p4 = np.stack([ak.to_numpy(flat[f]) for f in ("px", "py", "pz", e)], axis=-1)
    return p4, np.concatenate([[0], np.cumsum(counts)])


def _truth_mask(prt, cls: str, ak):
    """Mask of the truth objects of a class in a batch of Pythia event records."""
    ids = prt.id
    if cls in ("gluon", "quark"):
        wanted = (ids == 21) if cls == "gluon" else (np.abs(ids) <= 3)
        return (prt.status == -23) & wanted
    pdg = {"W": 24, "Z": 23, "top": 6}[cls]
    last = np.abs(ids[ak.where(prt.daughter1 > 0, prt.daughter1, 0)]) != pdg
    return (np.abs(ids) == pdg) & last


def _final_state(prt, settings: JetSettings, rng: np.random.Generator, ak):
    """The particles jets are clustered from, per event: visible stable particles, or the
    detector's particle-flow candidates made of them; those below settings.min_particle_pt dropped."""
    aid = np.abs(prt.id)
    visible = prt[(prt.status > 0) & (aid != 12) & (aid != 14) & (aid != 16)]
    p4, offsets = _flat(visible.p, ak)
    event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    if settings.detector == "cms":
        event, p4 = reconstruct(rng, event, p4, ak.to_numpy(ak.flatten(visible.id)))
    keep = np.hypot(p4[:, 0], p4[:, 1]) > settings.min_particle_pt
    p4, counts = p4[keep], np.bincount(event[keep], minlength=len(offsets) - 1)
    return ak.unflatten(ak.zip({k: p4[:, i] for i, k in enumerate(("px", "py", "pz", "E"))}), counts)


def _match_jets(batch, cls: str, settings: JetSettings, rng: np.random.Generator, fastjet, ak):
    """Cluster a Pythia batch and yield (constituent momenta (k, 4), jet (4,), truth pT) per matched jet."""
    prt = batch.prt
    particles = _final_state(prt, settings, rng, ak)
    cluster = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, settings.radius))
    jets, jet_off = _flat(cluster.inclusive_jets(min_pt=settings.jet_pt[0]), ak)
    cons = ak.flatten(cluster.constituents(min_pt=settings.jet_pt[0]), axis=1)  # one list per jet
    cons4, cons_off = _flat(cons, ak)
    truth4, truth_off = _flat(prt.p[_truth_mask(prt, cls, ak)], ak)
    jk, tk = kinematics(jets), kinematics(truth4)
    ok = (jk["pt"] < settings.jet_pt[1]) & (np.abs(jk["eta"]) < ABS_ETA_MAX)
    for ev in range(len(batch)):
        j0, j1 = jet_off[ev], jet_off[ev + 1]
        if j0 == j1:
            continue
        used = set()
        for t in range(truth_off[ev], truth_off[ev + 1]):
            dr = np.hypot(jk["eta"][j0:j1] - tk["eta"][t], wrap_phi(jk["phi"][j0:j1] - tk["phi"][t]))
            dr[~ok[j0:j1]] = np.inf
            best = j0 + int(np.argmin(dr))
            if dr[best - j0] < MATCH_DR and best not in used:
                used.add(best)
                c4 = cons4[cons_off[best]:cons_off[best + 1]]
                if len(c4) >= 3:  # N-subjettiness needs three exclusive subjets
                    yield c4, jets[best], tk["pt"][t]


def _new_pythia(lines: list[str], cls: str, settings: JetSettings, pythia8mc):
    """An initialised Pythia with these settings and the resonance mass windows of `settings`."""
    pythia = pythia8mc.Pythia("", False)
    if settings.bw_cutoff > 0:
        data = pythia.particleData
        for pid in RESONANCES:
            m0, width = data.m0(pid), data.mWidth(pid)
            lines = lines + [f"{pid}:mMin = {m0 - settings.bw_cutoff * width:.4f}",
                             f"{pid}:mMax = {m0 + settings.bw_cutoff * width:.4f}"]
    for line in lines:
        if not pythia.readString(line):
            raise L1ForgeError(f"Pythia rejected setting {line!r}")
    if not pythia.init():
        raise L1ForgeError(f"Pythia failed to initialise for class {cls}")
    return pythia


def _seed_lines(seed: int) -> list[str]:
    return ["Random:setSeed = on", f"Random:seed = {seed}"]


def _common_lines(settings: JetSettings) -> list[str]:
    return _COMMON + [f"PartonLevel:ISR = {'on' if settings.isr else 'off'}",
                      f"PartonLevel:MPI = {'on' if settings.mpi else 'off'}"]


def _hard_lines(cls: str, settings: JetSettings) -> list[str]:
    phase_space = [f"PhaseSpace:pTHatMin = {settings.pt_hat[0]}", f"PhaseSpace:pTHatMax = {settings.pt_hat[1]}"]
    return _common_lines(settings) + phase_space + PROCESS_SETTINGS[cls]


def _write_les_houches(hard, n_events: int, path: Path) -> None:
    """n_events hard-process events of `hard` (resonances undecayed) as a Les Houches event file:
    incoming partons, outgoing particles with their colours, masses and the event's pTHat as the
    shower scale; spin unknown (9), so the reading Pythia decays resonances isotropically."""
    info = hard.infoPython()
    beam = E_CM / 2
    lines = ['<LesHouchesEvents version="1.0">', "<init>", f" 2212 2212 {beam:.6e} {beam:.6e} 0 0 0 0 3 1",
             " 1.0 0.0 1.0 1", "</init>"]
    for _ in range(n_events):
        if not any(hard.next() for _ in range(100)):
            raise L1ForgeError("Pythia failed 100 times in a row to make a hard-process event")
        record = hard.process
        rows = [record[i] for i in range(record.size())]
        incoming = [p for p in rows if p.status() == -21]
        outgoing = [p for p in rows if p.isFinal()]
        lines += ["<event>", f" {len(incoming) + len(outgoing)} 1 1.0 {info.pTHat():.6e} {info.alphaEM():.6e} {info.alphaS():.6e}"]
        for status, mothers, group in ((-1, "0 0", incoming), (1, "1 2", outgoing)):
            lines += [f" {p.id()} {status} {mothers} {p.col()} {p.acol()} {p.px():.10e} {p.py():.10e} {p.pz():.10e} "
                      f"{p.e():.10e} {p.m():.10e} 0. 9." for p in group]
        lines.append("</event>")
    lines.append("</LesHouchesEvents>")
    path.write_text("\n".join(lines) + "\n")


def event_batches(cls: str, seed: int, settings: JetSettings = JetSettings(), extra: tuple[str, ...] = ()):
    """Endless batches of Pythia events of one class (awkward records, pythia8mc.nextBatch).

    With boson_decays="isotropic", W and Z events are made in two steps: a Pythia instance makes
    the hard process with the bosons undecayed, written in rounds of Les Houches events; a second
    one reads them, decays the bosons (no spin information: isotropic) and showers. `extra` lines
    go to the Pythia that decays and showers (tests use them to switch the shower off).
    """
    import pythia8mc

    if cls not in ("W", "Z") or settings.boson_decays == "correlated":
        pythia = _new_pythia(_hard_lines(cls, settings) + list(extra) + _seed_lines(seed), cls, settings, pythia8mc)
        while True:
            yield pythia.nextBatch(EVENTS_PER_BATCH)
    hard = _new_pythia(_hard_lines(cls, settings) + _seed_lines(seed) + [
        "ProcessLevel:resonanceDecays = off", "PartonLevel:all = off", "HadronLevel:all = off"], cls, settings, pythia8mc)
    decay_lines = [s for s in PROCESS_SETTINGS[cls] if s.split(":")[0].isdigit()]  # e.g. "24:onMode = off"
    with tempfile.TemporaryDirectory(prefix="l1forge-lhe-") as tmp:
        for round_ in itertools.count():
            lhe = Path(tmp) / f"hard{round_}.lhe"
            _write_les_houches(hard, LHE_EVENTS_PER_ROUND, lhe)
            shower = _new_pythia(_common_lines(settings) + ["Beams:frameType = 4", f"Beams:LHEF = {lhe}"]
                                 + decay_lines + list(extra) + _seed_lines(chunk_seed(seed, "shower", round_)), cls, settings, pythia8mc)
            while len(batch := shower.nextBatch(EVENTS_PER_BATCH)):
                yield batch
            lhe.unlink()


def generate_chunk(cls: str, seed: int, n_jets: int, settings: JetSettings = JetSettings()) -> Chunk:
    """Generate n_jets matched jets of one class (one core)."""
    import awkward as ak
    import fastjet

    start = time.perf_counter()
    found, events = [], 0
    batches = event_batches(cls, seed, settings)
    rng = np.random.default_rng(seed)  # the detector's randomness
    while len(found) < n_jets:
        batch = next(batches)
        events += len(batch)
        found.extend(_match_jets(batch, cls, settings, rng, fastjet, ak))
    batches.close()
    found = found[:n_jets]
    label = CLASSES.index(cls)
    feats, jet_rows = [], []
    for lo in range(0, n_jets, 100):  # bounded memory for the O(k^2) correlations
        part = found[lo:lo + 100]
        cons = pad_constituents([c for c, _, _ in part])
        jet4 = np.stack([j for _, j, _ in part])
        axes = exclusive_kt_axes(cons)
        mmdt = _soft_drop_mass(cons, ak, fastjet)
        if settings.cone > 0:
            listed = [cone_constituents(c, j, settings.cone) for c, j, _ in part]
            feats.append(constituent_features(pad_constituents([c for c, _ in listed]), jet4, np.stack([a for _, a in listed])))
        else:
            feats.append(constituent_features(cons, jet4))
        jet_rows.append(jet_features(cons, jet4, np.array([len(c) for c, _, _ in part]),
                                     np.array([t for _, _, t in part]), np.full(len(part), label), axes, mmdt))
    return Chunk(np.concatenate(feats).astype(np.float32), np.concatenate(jet_rows).astype(np.float32),
                 events, time.perf_counter() - start)


def _soft_drop_mass(cons, ak, fastjet) -> np.ndarray:
    """Modified mass-drop (soft drop, beta = 0, z_cut = 0.1) groomed mass on a C/A reclustering."""
    cluster = fastjet.ClusterSequence(as_awkward(cons), fastjet.JetDefinition(fastjet.cambridge_algorithm, R0))
    with no_exclusive_warning():
        return ak.to_numpy(cluster.exclusive_jets_softdrop_grooming(1, 0, 0.1, R0=R0).msoftdrop)


def _chunk_plan(n_per_class: int, seed: int, settings: JetSettings) -> list[tuple[str, int, int, JetSettings]]:
    plan = []
    for cls in CLASSES:
        for index, lo in enumerate(range(0, n_per_class, CHUNK_JETS)):
            plan.append((cls, chunk_seed(seed, cls, index), min(CHUNK_JETS, n_per_class - lo), settings))
    return plan


def cache_key(n_per_class: int, seed: int, settings: JetSettings = JetSettings()) -> str:
    text = f"jets:{GENERATOR_VERSION}:{n_per_class}:{seed}:{settings.key()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generate_jets(n_per_class: int, seed: int, out: str | Path, workers: int | None = None,
                  progress: bool = True, settings: JetSettings = JetSettings()) -> dict:
    """Write n_per_class jets of each class to `out` (HDF5, public layout); reuse the cache.

    Returns a summary dict: path, whether it came from the cache, and per-class timing.
    """
    if n_per_class < 1:
        raise L1ForgeError(f"--n-per-class must be >= 1, got {n_per_class}")
    settings.check()
    cached, hit, per_class = from_cache("jets", cache_key(n_per_class, seed, settings), out,
                                        lambda path: _generate_to(path, n_per_class, seed, workers, progress, settings))
    return {"path": str(out), "cache": str(cached), "cached": hit, "per_class": per_class or {}}


def _generate_to(path: Path, n_per_class: int, seed: int, workers: int | None, progress: bool,
                 settings: JetSettings) -> dict:
    plan = _chunk_plan(n_per_class, seed, settings)
    chunks = list(iter_chunks(plan, generate_chunk, label="generating jets", total=n_per_class * len(CLASSES),
                        size=lambda args: args[2], workers=workers, progress=progress))
    features = np.concatenate([c.features for c in chunks])
    jets = np.concatenate([c.jets for c in chunks])
    order = np.random.default_rng(seed).permutation(len(jets))
    attrs = {"n_per_class": n_per_class, "seed": seed,
             **{k: v if isinstance(v, str) else np.asarray(v) for k, v in settings.to_dict().items()}}
    _write_h5(path, features[order], jets[order], attrs)
    per_class = {}
    for cls in CLASSES:
        mine = [c for args, c in zip(plan, chunks) if args[0] == cls]
        per_class[cls] = {"jets": n_per_class, "events": sum(c.events for c in mine),
                          "core_seconds": sum(c.seconds for c in mine)}
    return per_class


def _write_h5(path: Path, features: np.ndarray, jets: np.ndarray, attrs: dict) -> None:
    """Write the public layout atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=False) as f:
        opts = dict(compression="gzip", compression_opts=4, shuffle=True, track_times=False)
        f.create_dataset(CONSTITUENTS_KEY, data=features, chunks=(min(len(features), 256), 150, 16), **opts)
        f.create_dataset(JETS_KEY, data=jets, **opts)
        f.create_dataset(PARTICLE_NAMES_KEY, data=np.array(PARTICLE_FEATURE_NAMES, dtype="S"), track_times=False)
        f.create_dataset(JET_NAMES_KEY, data=np.array(JET_FEATURES, dtype="S"), track_times=False)
        f.attrs["generator"] = f"l1forge jets v{GENERATOR_VERSION} (Pythia 8, FastJet anti-kT)"
        f.attrs["computed_jet_features"] = np.array(COMPUTED_JET_FEATURES, dtype="S")
        for k, v in attrs.items():
            f.attrs[k] = v

