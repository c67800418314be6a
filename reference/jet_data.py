"""Jets for the references, read from the public hls4ml jet layout that `l1forge data jets` writes
(`jetConstituentList` (N, particles, 16), `particleFeatureNames`, `jets` (N, features),
`jetFeatureNames` with the one-hot class columns j_g, j_q, j_w, j_z, j_t). The references read
the file themselves (h5py): they depend on nothing of l1forge.

Constituents come as (pT_rel, eta_rel, phi_rel) of the leading `n` particles (the lists are
pT-ordered, zero-padded), with a mask of the real ones."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import DataError, open_hdf5

CLASSES = ("g", "q", "w", "z", "t")
CONSTITUENT_FEATURES = ("j1_ptrel", "j1_etarel", "j1_phirel")


@dataclass
class Jets:
    constituents: np.ndarray  # (N, n, 3) float32: pT_rel, eta_rel, phi_rel; zero rows past the last particle
    mask: np.ndarray          # (N, n) bool: a real particle
    label: np.ndarray         # (N,) int: the index in CLASSES
    jet: np.ndarray | None = None  # (N, k) float64: the jet-level columns asked for, in that order

    def __len__(self) -> int:
        return len(self.label)

    def select(self, rows) -> "Jets":
        return Jets(self.constituents[rows], self.mask[rows], self.label[rows],
                    None if self.jet is None else self.jet[rows])

    def of_classes(self, names) -> "Jets":
        return self.select(np.isin(self.label, [CLASSES.index(c) for c in names]))


def _names(f, key: str) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in f[key][:]]


def read_jets(path: str | Path, n_constituents: int, limit: int | None = None,
              jet_columns: tuple[str, ...] = ()) -> Jets:
    """The first `limit` jets (all by default) of a jet file, with their leading `n_constituents`
    and the jet-level `jet_columns` (names of 'jetFeatureNames', e.g. 'j_mass', 'j_pt')."""
    path = Path(path)
    with open_hdf5(path, "jet") as f:
        keys = ("jetConstituentList", "particleFeatureNames", "jets", "jetFeatureNames")
        if any(k not in f for k in keys):
            raise DataError(f"{path}: expected the jet layout ({', '.join(keys)}; `l1forge data jets` writes it)")
        particle_names, jet_names = _names(f, "particleFeatureNames"), _names(f, "jetFeatureNames")
        missing = [c for c in CONSTITUENT_FEATURES if c not in particle_names]
        missing += [f"j_{c}" for c in CLASSES if f"j_{c}" not in jet_names]
        missing += [c for c in jet_columns if c not in jet_names]
        if missing:
            raise DataError(f"{path}: no column {', '.join(missing)} in the jet file")
        store, table = f["jetConstituentList"], f["jets"]
        if getattr(store, "ndim", 0) != 3 or getattr(table, "ndim", 0) != 2 or len(store) != len(table):
            raise DataError(f"{path}: expected 'jetConstituentList' (N, particles, features) and 'jets' (N, features)")
        if limit is not None and limit < 1:
            raise DataError(f"{path}: the jet limit must be at least 1, got {limit}")
        total = len(table)
        n = total if limit is None else min(limit, total)
        if n == 0:
            raise DataError(f"{path}: the file holds no jets")
        if n_constituents < 1 or n_constituents > store.shape[1]:
            raise DataError(f"{path}: holds {store.shape[1]} constituents per jet, asked for {n_constituents}")
        columns = [particle_names.index(c) for c in CONSTITUENT_FEATURES]
        constituents = np.asarray(store[:n, :n_constituents, :], dtype=np.float32)[:, :, columns]
        rows = np.asarray(table[:n])
        onehot = rows[:, [jet_names.index(f"j_{c}") for c in CLASSES]].astype(np.float32)
        jet = rows[:, [jet_names.index(c) for c in jet_columns]].astype(np.float64) if jet_columns else None
    if not np.allclose(onehot.sum(1), 1.0):
        raise DataError(f"{path}: the class columns j_g..j_t are not one-hot")
    mask = constituents[:, :, 0] > 0
    return Jets(constituents * mask[:, :, None], mask, onehot.argmax(1), jet)
