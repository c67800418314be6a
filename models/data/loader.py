"""Load jet files (generated ones and the public hls4ml LHC jet dataset) into tagger inputs.

Selection follows the seed paper (l1-jet-id): drop constituents with pT <= 2 GeV, keep the N
leading remaining ones (zero-padded), pick the 3-feature set (pT or pT_rel, eta_rel, phi_rel) or
all 16, drop jets left empty, standardise with the training split's statistics over real
constituents (padded slots stay exactly zero), split deterministically.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from l1forge.compiler.errors import L1ForgeError

from .layout import CLASSES, CONSTITUENTS_KEY, JETS_KEY, LABEL_COLUMNS, P, PARTICLE_FEATURES

FEATURE_SETS = {
    "3": ("pt", "etarel", "phirel"),
    "3rel": ("ptrel", "etarel", "phirel"),
    "16": tuple(name[3:] for name in PARTICLE_FEATURES),
}
SPLITS = ("train", "val", "test")


def read_jet_file(path: str | Path, n_slots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Constituents (n, slots, 16) float32 and class indices (n,) from one file; checks the layout.

    n_slots reads only the leading slots (constituents are pT-ordered, so those above any pT cut
    come first).
    """
    path = Path(path)
    if not path.is_file():
        raise L1ForgeError(f"{path}: no such jet file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise L1ForgeError(f"{path}: not an HDF5 file (expected the hls4ml LHC jet layout)") from None
    with f:
        for key in (CONSTITUENTS_KEY, JETS_KEY):
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise L1ForgeError(f"{path}: missing dataset '{key}' (expected the hls4ml LHC jet layout: "
                                   f"'{CONSTITUENTS_KEY}' (jets, slots, 16) and '{JETS_KEY}' (jets, 59))")
        cons_ds, jets_ds = f[CONSTITUENTS_KEY], f[JETS_KEY]
        if cons_ds.ndim != 3 or cons_ds.shape[2] != len(PARTICLE_FEATURES):
            raise L1ForgeError(f"{path}: dataset '{CONSTITUENTS_KEY}' has shape {cons_ds.shape}, "
                               f"expected (jets, slots, {len(PARTICLE_FEATURES)})")
        if jets_ds.ndim != 2 or jets_ds.shape[1] != 59 or jets_ds.shape[0] != cons_ds.shape[0]:
            raise L1ForgeError(f"{path}: dataset '{JETS_KEY}' has shape {jets_ds.shape}, "
                               f"expected ({cons_ds.shape[0]}, 59)")
        slots = cons_ds.shape[1] if n_slots is None else min(n_slots, cons_ds.shape[1])
        cons = np.asarray(cons_ds[:, :slots, :], dtype=np.float32)
        onehot = np.asarray(jets_ds[:, LABEL_COLUMNS])
    if not np.all(onehot.sum(axis=1) == 1) or not np.all((onehot == 0) | (onehot == 1)):
        bad = int(np.argmax((onehot.sum(axis=1) != 1) | np.any((onehot != 0) & (onehot != 1), axis=1)))
        raise L1ForgeError(f"{path}: dataset '{JETS_KEY}' columns 53-57 (j_g..j_t) are not one-hot labels "
                           f"(first bad row {bad})")
    return cons, onehot.argmax(axis=1)


def select_constituents(cons: np.ndarray, n_constituents: int, features: str = "3",
                        min_pt: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(jets, N, F) features and (jets, N) real-constituent mask after the pT cut, zero-padded."""
    if features not in FEATURE_SETS:
        raise L1ForgeError(f"unknown feature set {features!r}; choose one of {', '.join(FEATURE_SETS)}")
    keep = cons[:, :, P["pt"]] > min_pt
    # Stable reorder: kept constituents first, in their original (pT-descending) order.
    order = np.argsort(~keep, axis=1, kind="stable")[:, :n_constituents]
    picked = np.take_along_axis(cons, order[:, :, None], axis=1)
    mask = np.take_along_axis(keep, order, axis=1)
    columns = [P[name] for name in FEATURE_SETS[features]]
    x = picked[:, :, columns] * mask[:, :, None]
    if x.shape[1] < n_constituents:
        pad = n_constituents - x.shape[1]
        x = np.pad(x, ((0, 0), (0, pad), (0, 0)))
        mask = np.pad(mask, ((0, 0), (0, pad)))
    return x.astype(np.float32), mask


@dataclass
class Standardizer:
    """Per-feature (x - mean) / std over real constituents; padded slots stay zero."""
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, mask: np.ndarray) -> "Standardizer":
        real = x[mask]
        std = real.std(axis=0)
        return cls(real.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return (((x - self.mean) / self.std) * mask[:, :, None]).astype(np.float32)


@dataclass
class JetSplit:
    x: np.ndarray  # (jets, N, F) standardised, float32
    y: np.ndarray  # (jets,) class index into CLASSES
    mask: np.ndarray  # (jets, N) bool, real constituents


@dataclass
class JetData:
    """Deterministic train/val/test splits and the standardisation fitted on train."""
    train: JetSplit
    val: JetSplit
    test: JetSplit
    standardizer: Standardizer
    feature_names: tuple[str, ...]
    classes: tuple[str, ...] = field(default=CLASSES)


def load_jets(paths: str | Path | Sequence[str | Path], n_constituents: int = 8, features: str = "3",
              min_pt: float = 2.0, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
              seed: int = 0, standardize: bool = True) -> JetData:
    """Read one or more jet files and return standardised deterministic splits."""
    if n_constituents < 1:
        raise L1ForgeError(f"n_constituents must be >= 1, got {n_constituents}")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-9:
        raise L1ForgeError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise L1ForgeError("no jet files given")
    xs, ms, ys = [], [], []
    for p in paths:
        cons, y = read_jet_file(p, n_slots=n_constituents)  # pT-ordered: the cut keeps a prefix
        x, m = select_constituents(cons, n_constituents, features, min_pt)
        xs.append(x), ms.append(m), ys.append(y)
    x, mask, y = np.concatenate(xs), np.concatenate(ms), np.concatenate(ys)
    nonempty = mask.any(axis=1)
    x, mask, y = x[nonempty], mask[nonempty], y[nonempty]
    order = np.random.default_rng(seed).permutation(len(y))
    bounds = np.cumsum([int(round(f * len(y))) for f in fractions[:2]])
    parts = np.split(order, bounds)
    std = Standardizer.fit(x[parts[0]], mask[parts[0]]) if standardize else \
        Standardizer(np.zeros(x.shape[2], np.float32), np.ones(x.shape[2], np.float32))
    splits = [JetSplit(std(x[i], mask[i]), y[i], mask[i]) for i in parts]
    return JetData(*splits, standardizer=std, feature_names=FEATURE_SETS[features])
