"""Jets for "flow matching beyond kinematics", read from the JetClass-like layout that `l1forge data
jetclass` writes ('particles' (N, 128, features) with the attribute 'particle_features', 'jets' (N,
features) with 'jet_features', class names in 'classes'). The 13 particle features, in the
authors' order (uhh-pd-ml/beyond_kinematics): eta_rel, phi_rel, pT_rel (pT over the jet's pT),
d0, sigma(d0), dz, sigma(dz) (mm), charge and the particle-identity one-hot (charged hadron,
neutral hadron, photon, electron, muon). The conditions: the class one-hot, jet pT and eta.
Particles with |eta_rel| > 1 are dropped, as the authors'."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..epic_jedi_fm.data import Clouds
from ..files import DataError, open_hdf5

FEATURES = ("eta_rel", "phi_rel", "pt_rel", "d0", "d0_err", "dz", "dz_err", "charge",
            "charged_hadron", "neutral_hadron", "photon", "electron", "muon")
PID = FEATURES[8:]
CHARGE, D0, DZ = FEATURES.index("charge"), FEATURES.index("d0"), FEATURES.index("dz")
_SOURCE = {"d0": "part_d0val", "d0_err": "part_d0err", "dz": "part_dzval", "dz_err": "part_dzerr",
           "charge": "part_charge", "charged_hadron": "part_isChargedHadron", "neutral_hadron": "part_isNeutralHadron",
           "photon": "part_isPhoton", "electron": "part_isElectron", "muon": "part_isMuon"}
_NEEDED = ("part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi") + tuple(_SOURCE.values())
MAX_ETA_REL = 1.0


@dataclass
class LabelledClouds:
    clouds: Clouds       # particles (N, n, 13), mask, jet (N, classes + 2): one-hot, pT [GeV], eta
    label: np.ndarray    # (N,) int: index in `classes`
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.label)

    def select(self, rows) -> "LabelledClouds":
        return LabelledClouds(self.clouds.select(rows), self.label[rows], self.classes)


def _names(f, key: str) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in f.attrs.get(key, [])]


def read_particle_jets(path: str | Path, n_particles: int, limit: int | None = None) -> LabelledClouds:
    """The first `limit` jets (all by default) with their leading `n_particles` particles."""
    path = Path(path)
    with open_hdf5(path, "JetClass-like jet") as f:
        if "particles" not in f or "jets" not in f or "particle_features" not in f.attrs:
            raise DataError(f"{path}: expected the JetClass-like layout ('particles', 'jets' with feature names; "
                            "`l1forge data jetclass` writes it)")
        names, jet_names, classes = _names(f, "particle_features"), _names(f, "jet_features"), _names(f, "classes")
        missing = [c for c in _NEEDED if c not in names] + [c for c in ("jet_pt", "jet_eta", "label")
                                                             if c not in jet_names]
        if missing:
            raise DataError(f"{path}: no column {', '.join(missing)} in the JetClass-like file")
        if limit is not None and limit < 1:
            raise DataError(f"{path}: the jet limit must be at least 1, got {limit}")
        n = len(f["jets"]) if limit is None else min(limit, len(f["jets"]))
        if n == 0:
            raise DataError(f"{path}: the file holds no jets")
        raw, table = np.asarray(f["particles"][:n]), np.asarray(f["jets"][:n], dtype=np.float64)
    col = {name: raw[..., names.index(name)] for name in _NEEDED}
    jet_pt, jet_eta = table[:, jet_names.index("jet_pt")], table[:, jet_names.index("jet_eta")]
    label = table[:, jet_names.index("label")].astype(int)
    keep = (col["part_energy"] > 0) & (np.abs(col["part_deta"]) <= MAX_ETA_REL)
    pt_rel = np.hypot(col["part_px"], col["part_py"]) / jet_pt[:, None]
    x = np.stack([col["part_deta"], col["part_dphi"], pt_rel] + [col[_SOURCE[k]] for k in FEATURES[3:]], -1)
    # Drop the particles outside |eta_rel| <= 1 and close the gaps (the lists stay pT-ordered).
    order = np.argsort(~keep, axis=1, kind="stable")[:, :n_particles]
    x = np.take_along_axis(x, order[..., None], 1) * np.take_along_axis(keep, order, 1)[..., None]
    mask = np.take_along_axis(keep, order, 1)
    if x.shape[1] < n_particles:
        raise DataError(f"{path}: holds {x.shape[1]} particles per jet, asked for {n_particles}")
    conditions = np.column_stack([np.eye(len(classes))[label], jet_pt, jet_eta])
    return LabelledClouds(Clouds(x.astype(np.float32), mask, conditions), label, tuple(classes))


def discretize(x: np.ndarray, mask: np.ndarray, pt_rel_range: tuple[float, float]) -> np.ndarray:
    """The authors' post-processing of generated particles: the identity one-hot by argmax, the
    charge rounded (to -1, 0, 1), pT_rel clipped to the training range."""
    out = x.copy()
    pid = slice(FEATURES.index(PID[0]), FEATURES.index(PID[-1]) + 1)
    out[..., pid] = np.eye(len(PID))[np.argmax(x[..., pid], -1)]
    out[..., CHARGE] = np.clip(np.round(x[..., CHARGE]), -1, 1)
    out[..., 2] = np.clip(x[..., 2], *pt_rel_range)
    return out * mask[..., None]


TRANSFORMS = ("authors", "log")
IP_SCALE = 0.01  # mm: the arcsinh's linear range of the 'log' transform


def to_flow_space(x: np.ndarray, mask: np.ndarray, transform: str) -> np.ndarray:
    """The features the flow learns (before the standard scaling): the authors' as they are, or
    'log': log pT_rel, arcsinh(d0 / 10 um) and arcsinh(dz / 10 um), which a short training
    resolves (d0's core is tens of um wide, its tails reach 100 mm: standardised, the core is lost)."""
    if transform == "authors":
        return x
    out = x.astype(np.float64)
    out[..., 2] = np.log(np.where(mask, out[..., 2], 1.0))
    out[..., [D0, DZ]] = np.arcsinh(out[..., [D0, DZ]] / IP_SCALE)
    return (out * mask[..., None]).astype(np.float32)


def from_flow_space(x: np.ndarray, mask: np.ndarray, transform: str) -> np.ndarray:
    if transform == "authors":
        return x
    out = x.astype(np.float64)
    out[..., 2] = np.exp(np.clip(out[..., 2], -30, 0))
    out[..., [D0, DZ]] = np.sinh(np.clip(out[..., [D0, DZ]], -20, 20)) * IP_SCALE
    return (out * mask[..., None]).astype(np.float32)
