"""JetClass-like jets (arXiv 2202.03772) with particle identity, charge and track impact
parameters, made with Pythia 8 + FastJet: the data of "flow matching beyond kinematics" (arXiv
2312.00123). Ours, stated:
- Classes (JetClass' names): QCD (Z -> nu nu + a quark or gluon), H -> bb, cc, gg (HZ, Z -> nu nu),
  t -> bqq (t tbar, W -> quarks), W -> qq and Z -> qq (W / Z + a parton). JetClass' H -> 4q,
  H -> l nu qq' and t -> b l nu are not made. 13 TeV, ISR, FSR and multiple interactions on.
- Particles: the generator's visible stable particles above JetSettings-like min_particle_pt
  (0.5 GeV), no detector (JetClass ran Delphes' CMS card): identity from the PDG id (electron,
  muon, photon, else charged or neutral hadron by charge).
- Jets: anti-kT R = 0.8, pT in jet_pt (500-1000 GeV), |eta| < 2, matched within Delta R < 0.8 to
  the truth object (last copy of H, t, W, Z; the outgoing hard parton for QCD), and for the
  resonances with all quarks and gluons of the decay (through t -> bW) within Delta R < 0.8 of the
  jet axis, as JetClass requires. The leading 128 particles (JetClass' limit) are kept.
- Impact parameters: charged particles are straight lines from their true production vertex
  (Pythia's decay vertices: B, D hadrons, K0S, Lambda; the primary vertex at the origin) in the
  transverse direction of their momentum (the bending over millimetres at pT >= 0.5 GeV in 3.8 T
  is negligible). d0 is CMS' signed dxy = (-x py + y px) / pT and dz = z - (x px + y py) / pT
  * pz / pT, both in mm, each smeared by a Gaussian of the stated resolution, which is stored as
  its error: sigma(d0) = 0.010 (+) 0.090 / pT and sigma(dz) = 0.030 (+) 0.150 / pT (mm, pT in GeV,
  added in quadrature: CMS-tracker-like, 10 um / 30 um at high pT, ~0.1 mm at 1 GeV). Neutral
  particles carry zeros, as in JetClass.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from l1forge.compiler.atomic import atomic_path
from l1forge.compiler.errors import L1ForgeError

from .jet_features import invariant_mass, kinematics, wrap_phi
from .jets import EVENTS_PER_BATCH, _common_lines, _flat, _new_pythia, _seed_lines, chunk_seed
from .parallel import from_cache, iter_chunks

JETCLASS_VERSION = "1"  # bump when the physics or the layout changes: it invalidates caches
CLASSES = ("QCD", "Hbb", "Hcc", "Hgg", "Tbqq", "Wqq", "Zqq")
N_PARTICLES = 128
CHUNK_JETS = 100
ABS_ETA_MAX = 2.0
PARTICLES_KEY, JETS_KEY = "particles", "jets"
PARTICLE_FEATURES = ("part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi", "part_charge",
                     "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron",
                     "part_isMuon", "part_d0val", "part_d0err", "part_dzval", "part_dzerr")
JET_FEATURES = ("jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_mass", "jet_nparticles", "label")
PF = {name: i for i, name in enumerate(PARTICLE_FEATURES)}
JF = {name: i for i, name in enumerate(JET_FEATURES)}
PID_FLAGS = PARTICLE_FEATURES[PF["part_isChargedHadron"]:PF["part_isMuon"] + 1]
D0_RESOLUTION = (0.010, 0.090)  # mm: constant, and times 1 / pT (GeV)
DZ_RESOLUTION = (0.030, 0.150)
RESONANCE_IDS = {"H": 25, "T": 6, "W": 24, "Z": 23}
_PARTONS = (1, 2, 3, 4, 5, 21)
_Z_TO_NEUTRINOS = ["23:onMode = off", "23:onIfAny = 12 14 16"]
_Z_PLUS_PARTON = ["WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2"]
_HZ = ["HiggsSM:ffbar2HZ = on", "25:onMode = off"] + _Z_TO_NEUTRINOS
_TO_QUARKS = "onIfAny = 1 2 3 4 5"
PROCESSES = {
    "QCD": _Z_PLUS_PARTON + _Z_TO_NEUTRINOS,
    "Hbb": _HZ + ["25:onIfMatch = 5 -5"],
    "Hcc": _HZ + ["25:onIfMatch = 4 -4"],
    "Hgg": _HZ + ["25:onIfMatch = 21 21"],
    "Tbqq": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", f"24:{_TO_QUARKS}"],
    "Wqq": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", "24:onMode = off", f"24:{_TO_QUARKS}"],
    "Zqq": _Z_PLUS_PARTON + ["23:onMode = off", f"23:{_TO_QUARKS}"],
}


@dataclass(frozen=True)
class JetClassSettings:
    pt_hat: tuple[float, float] = (450.0, 1100.0)  # Pythia's pTHat window (the boson, top or parton pT)
    jet_pt: tuple[float, float] = (500.0, 1000.0)  # JetClass' jet pT window
    radius: float = 0.8
    min_particle_pt: float = 0.5  # GeV
    bw_cutoff: float = 15.0  # W, Z, top masses within this many widths of the pole (as jets.JetSettings)
    isr: bool = True
    mpi: bool = True

    def check(self) -> None:
        for name in ("pt_hat", "jet_pt"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi:
                raise L1ForgeError(f"--{name.replace('_', '-')} must be LOW,HIGH with 0 <= LOW < HIGH, got {lo:g},{hi:g}")
        if not 0.1 <= self.radius <= 1.5:
            raise L1ForgeError(f"--radius must be between 0.1 and 1.5, got {self.radius:g}")
        if self.min_particle_pt < 0:
            raise L1ForgeError(f"--min-particle-pt must be >= 0, got {self.min_particle_pt:g}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.to_dict().items()))


def _event_arrays(prt, ak) -> dict[str, np.ndarray]:
    """Flat numpy columns of a batch's particle records and the per-event offsets."""
    counts = ak.to_numpy(ak.num(prt.id, axis=1))
    flat = lambda a: ak.to_numpy(ak.flatten(a))  # noqa: E731
    vertex = prt.vProd  # None for particles at the origin
    return {"offsets": np.concatenate([[0], np.cumsum(counts)]), "id": flat(prt.id), "status": flat(prt.status),
            "d1": flat(prt.daughter1), "d2": flat(prt.daughter2),
            "p4": np.stack([flat(prt.p[f]) for f in ("px", "py", "pz", "e")], -1),
            "vertex": np.stack([flat(ak.fill_none(vertex[f], 0.0)) for f in ("px", "py", "pz")], -1)}


def _last_copy(ev: dict, i: int) -> int:
    while ev["d1"][i] > 0 and ev["d1"][i] == ev["d2"][i] and ev["id"][ev["d1"][i]] == ev["id"][i]:
        i = ev["d1"][i]
    return i


def _decay_partons(ev: dict, i: int) -> list[int]:
    """Quarks and gluons a resonance decays to (through resonances: t -> b W -> b q q')."""
    out, stack = [], [_last_copy(ev, i)]
    while stack:
        j = stack.pop()
        for k in range(ev["d1"][j], max(ev["d1"][j], ev["d2"][j]) + 1):
            if k <= 0:
                continue
            if abs(ev["id"][k]) in RESONANCE_IDS.values():
                stack.append(_last_copy(ev, k))
            elif abs(ev["id"][k]) in _PARTONS:
                out.append(k)
    return out


def _truth(ev: dict, cls: str) -> list[tuple[int, list[int]]]:
    """(truth index, indices of its decay partons) in one event's record (local indices)."""
    ids, status = ev["id"], ev["status"]
    if cls == "QCD":
        return [(k, []) for k in np.nonzero((status == -23) & np.isin(np.abs(ids), _PARTONS))[0]]
    return [(k, _decay_partons(ev, k)) for k in np.nonzero(np.abs(ids) == RESONANCE_IDS[cls[0]])[0]
            if _last_copy(ev, k) == k]  # the last copy carries the decay


def _matched_jets(batch, cls: str, settings: JetClassSettings, fastjet, ak):
    """Cluster a batch; yield (indices of the constituents in the flat particle columns, jet (4,))
    per jet matched to a truth object (and containing its decay partons), with the columns."""
    cols = _event_arrays(batch.prt, ak)
    aid, p4 = np.abs(cols["id"]), cols["p4"]
    final = ((cols["status"] > 0) & (aid != 12) & (aid != 14) & (aid != 16)
             & (np.hypot(p4[:, 0], p4[:, 1]) > settings.min_particle_pt))
    event = np.repeat(np.arange(len(batch)), np.diff(cols["offsets"]))
    chosen = np.nonzero(final)[0]  # flat index of every clustered particle, event by event
    per_event = np.bincount(event[chosen], minlength=len(batch))
    first = np.concatenate([[0], np.cumsum(per_event)])
    particles = ak.unflatten(ak.zip({k: p4[chosen, i] for i, k in enumerate(("px", "py", "pz", "E"))}), per_event)
    cluster = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, settings.radius))
    jets, jet_off = _flat(cluster.inclusive_jets(min_pt=settings.jet_pt[0]), ak)
    members = cluster.constituent_index(min_pt=settings.jet_pt[0])
    jk = kinematics(jets)
    ok = (jk["pt"] < settings.jet_pt[1]) & (np.abs(jk["eta"]) < ABS_ETA_MAX)
    for e in range(len(batch)):
        j0, j1 = jet_off[e], jet_off[e + 1]
        if j0 == j1:
            continue
        lo, hi = cols["offsets"][e], cols["offsets"][e + 1]
        ev = {k: cols[k][lo:hi] for k in ("id", "status", "d1", "d2", "p4")}
        used = set()
        for truth, partons in _truth(ev, cls):
            tk = kinematics(ev["p4"][truth])
            dr = np.hypot(jk["eta"][j0:j1] - tk["eta"], wrap_phi(jk["phi"][j0:j1] - tk["phi"]))
            dr[~ok[j0:j1]] = np.inf
            best = int(np.argmin(dr))
            if dr[best] >= settings.radius or best in used:
                continue
            if partons:
                pk = kinematics(ev["p4"][partons])
                inside = np.hypot(pk["eta"] - jk["eta"][j0 + best], wrap_phi(pk["phi"] - jk["phi"][j0 + best]))
                if np.any(inside >= settings.radius):
                    continue
            used.add(best)
            local = ak.to_numpy(members[e][best])
            yield chosen[first[e] + local], jets[j0 + best], cols


def impact_parameters(vertex: np.ndarray, p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True (d0, dz) in mm of straight tracks from production vertices (k, 3) with momenta (k, 4)."""
    pt = np.hypot(p4[:, 0], p4[:, 1])
    d0 = (-vertex[:, 0] * p4[:, 1] + vertex[:, 1] * p4[:, 0]) / pt
    dz = vertex[:, 2] - (vertex[:, 0] * p4[:, 0] + vertex[:, 1] * p4[:, 1]) / pt * p4[:, 2] / pt
    return d0, dz


def resolution(pt: np.ndarray, terms: tuple[float, float]) -> np.ndarray:
    return np.hypot(terms[0], terms[1] / pt)


def particle_rows(p4: np.ndarray, ids: np.ndarray, vertex: np.ndarray, jet: np.ndarray, charge_of,
                  rng: np.random.Generator) -> np.ndarray:
    """The PARTICLE_FEATURES rows (k, 16) of one jet's particles, leading 128 by pT."""
    order = np.argsort(-np.hypot(p4[:, 0], p4[:, 1]), kind="stable")[:N_PARTICLES]
    p4, ids, vertex = p4[order], ids[order], vertex[order]
    k, j = kinematics(p4), kinematics(jet)
    charge = np.array([charge_of(i) for i in ids])
    aid, charged = np.abs(ids), charge != 0
    flags = np.stack([charged & (aid != 11) & (aid != 13), ~charged & (aid != 22), aid == 22, aid == 11, aid == 13], -1)
    d0, dz = impact_parameters(vertex, p4)
    d0err, dzerr = resolution(k["pt"], D0_RESOLUTION), resolution(k["pt"], DZ_RESOLUTION)
    d0, dz = d0 + d0err * rng.standard_normal(len(d0)), dz + dzerr * rng.standard_normal(len(dz))
    track = np.stack([d0, d0err, dz, dzerr], -1) * charged[:, None]
    return np.column_stack([p4, k["eta"] - j["eta"], wrap_phi(k["phi"] - j["phi"]), charge, flags, track])


def generate_jetclass_chunk(cls: str, seed: int, n_jets: int, settings: JetClassSettings) -> tuple[np.ndarray, np.ndarray]:
    """n_jets jets of one class: particles (n, 128, 16) and jets (n, 7), float32 (one core)."""
    import awkward as ak
    import fastjet
    import pythia8mc

    lines = _common_lines(settings) + [f"PhaseSpace:pTHatMin = {settings.pt_hat[0]}",
                                       f"PhaseSpace:pTHatMax = {settings.pt_hat[1]}"] + PROCESSES[cls] + _seed_lines(seed)
    pythia = _new_pythia(lines, cls, settings, pythia8mc)
    charges: dict[int, float] = {}

    def charge_of(pid: int) -> float:
        if pid not in charges:
            charges[pid] = pythia.particleData.charge(int(pid))
        return charges[pid]

    rng = np.random.default_rng(seed)  # the track smearing
    particles = np.zeros((n_jets, N_PARTICLES, len(PARTICLE_FEATURES)), np.float32)
    jets = np.zeros((n_jets, len(JET_FEATURES)), np.float32)
    n = 0
    while n < n_jets:
        for index, jet, cols in _matched_jets(pythia.nextBatch(EVENTS_PER_BATCH), cls, settings, fastjet, ak):
            if n == n_jets:
                break
            rows = particle_rows(cols["p4"][index], cols["id"][index], cols["vertex"][index], jet, charge_of, rng)
            particles[n, :len(rows)] = rows
            j = kinematics(jet)
            jets[n] = (j["pt"], j["eta"], j["phi"], jet[3], invariant_mass(jet), len(rows), CLASSES.index(cls))
            n += 1
    return particles, jets


def cache_key(n_per_class: int, seed: int, classes: tuple[str, ...], settings: JetClassSettings) -> str:
    text = f"jetclass:{JETCLASS_VERSION}:{n_per_class}:{seed}:{','.join(classes)}:{settings.key()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generate_jetclass(n_per_class: int, seed: int, out: str | Path, classes: tuple[str, ...] = CLASSES,
                      workers: int | None = None, progress: bool = True,
                      settings: JetClassSettings = JetClassSettings()) -> dict:
    """Write n_per_class jets of each of `classes` to `out` (HDF5: PARTICLES_KEY (n, 128, 16) and
    JETS_KEY (n, 7) float32, shuffled, feature and class names as attributes); reuse the cache."""
    if n_per_class < 1:
        raise L1ForgeError(f"--n-per-class must be >= 1, got {n_per_class}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown or not classes:
        raise L1ForgeError(f"unknown class {', '.join(unknown) or '(none given)'}; choose among {', '.join(CLASSES)}")
    classes = tuple(c for c in CLASSES if c in classes)
    settings.check()
    cached, hit, _ = from_cache("jetclass", cache_key(n_per_class, seed, classes, settings), out,
                                lambda path: _generate_to(path, n_per_class, seed, classes, workers, progress, settings))
    return {"path": str(out), "cache": str(cached), "cached": hit}


def _generate_to(path: Path, n_per_class: int, seed: int, classes: tuple[str, ...], workers: int | None,
                 progress: bool, settings: JetClassSettings) -> None:
    plan = [(cls, chunk_seed(seed, f"jetclass-{cls}", index), min(CHUNK_JETS, n_per_class - lo), settings)
            for cls in classes for index, lo in enumerate(range(0, n_per_class, CHUNK_JETS))]
    chunks = list(iter_chunks(plan, generate_jetclass_chunk, label="generating JetClass-like jets",
                              total=n_per_class * len(classes), size=lambda args: args[2], workers=workers,
                              progress=progress))
    order = np.random.default_rng(seed).permutation(n_per_class * len(classes))
    particles = np.concatenate([c[0] for c in chunks])[order]
    jets = np.concatenate([c[1] for c in chunks])[order]
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=False) as f:
        opts = dict(compression="gzip", compression_opts=4, shuffle=True, track_times=False)
        f.create_dataset(PARTICLES_KEY, data=particles, chunks=(min(len(particles), 256), N_PARTICLES,
                                                                len(PARTICLE_FEATURES)), **opts)
        f.create_dataset(JETS_KEY, data=jets, **opts)
        f.attrs["generator"] = f"l1forge jetclass v{JETCLASS_VERSION} (Pythia 8, FastJet anti-kT)"
        f.attrs["particle_features"] = np.array(PARTICLE_FEATURES, dtype="S")
        f.attrs["jet_features"] = np.array(JET_FEATURES, dtype="S")
        f.attrs["classes"] = np.array(CLASSES, dtype="S")
        f.attrs["n_per_class"], f.attrs["seed"] = n_per_class, seed
        for k, v in settings.to_dict().items():
            f.attrs[k] = v if isinstance(v, (str, bool)) else np.asarray(v)


def summarize_jetclass(path: str | Path) -> dict:
    """Per class: jets, mean particles, median mass and pT, charged share, share of tracks with
    |d0| / sigma(d0) > 3 (displaced: b and c hadrons, K0S, Lambda), electrons and muons per jet."""
    with h5py.File(path, "r") as f:
        particles, jets = f[PARTICLES_KEY][:], f[JETS_KEY][:]
    out = {}
    for label, cls in enumerate(CLASSES):
        mine = jets[:, JF["label"]] == label
        if not mine.any():
            continue
        p = particles[mine]
        real = p[p[..., PF["part_energy"]] > 0]
        track = real[real[:, PF["part_charge"]] != 0]
        significance = np.abs(track[:, PF["part_d0val"]] / track[:, PF["part_d0err"]])
        out[cls] = {"jets": int(mine.sum()), "mean_particles": float(jets[mine, JF["jet_nparticles"]].mean()),
                    "median_mass": float(np.median(jets[mine, JF["jet_mass"]])),
                    "median_pt": float(np.median(jets[mine, JF["jet_pt"]])),
                    "charged_share": len(track) / len(real), "displaced_share": float(np.mean(significance > 3)),
                    "leptons_per_jet": float(real[:, PF["part_isElectron"]].sum() + real[:, PF["part_isMuon"]].sum())
                    / int(mine.sum())}
    return out
