"""Point clouds in the CaloClouds layout, and the normalisations the models train on.

Reads the layout `l1forge data showers --geometry ild` writes (and CaloClouds' public files use):
`events` (N, 4, width) rows x, y = layer, z, e (GeV), each shower's points the columns with e > 0,
and `energy` (N, 1) incident energies in GeV. This package reads the file itself (h5py): the
references depend on nothing of l1forge.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..files import DataError, open_hdf5

N_LAYERS = 30


def read_showers(path: str | Path, limit: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(incident energies (N,) GeV, per shower a (k, 4) float32 array of points x, y, z, e)."""
    path = Path(path)
    f = open_hdf5(path, "shower")
    with f:
        if "events" not in f or "energy" not in f:
            raise DataError(f"{path}: expected the CaloClouds layout ('events' (N, 4, points), 'energy' (N, 1))")
        n = len(f["energy"]) if limit is None else min(limit, len(f["energy"]))
        energy = np.asarray(f["energy"][:n], dtype=np.float64).reshape(-1)
        events = np.asarray(f["events"][:n], dtype=np.float32)
    if events.ndim != 3 or events.shape[1] != 4:
        raise DataError(f"{path}: 'events' has shape {events.shape}, expected (N, 4, points)")
    return energy, [e[:, e[3] > 0].T.copy() for e in events]


def write_showers(path: str | Path, energy: np.ndarray, showers: list[np.ndarray]) -> None:
    """Write showers in the same layout (points right-aligned after zero padding, plus n_points)."""
    counts = np.array([len(s) for s in showers], dtype=np.int64)
    width = max(1, int(counts.max(initial=0)))
    events = np.zeros((len(showers), 4, width), dtype=np.float32)
    for i, s in enumerate(showers):
        if len(s):
            events[i, :, width - len(s):] = s.T
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("events", data=events, compression="gzip", shuffle=True)
        f.create_dataset("energy", data=np.asarray(energy, dtype=np.float32).reshape(-1, 1))
        f.create_dataset("n_points", data=counts)
    tmp.replace(path)


@dataclass
class PointScaler:
    """Per point: (x, y + U(-1/2, 1/2), z, ln e) shifted and scaled to mean 0, std sigma_data; per
    shower the context (incident energy, number of points) mapped linearly to [-1, 1]."""
    mean: np.ndarray
    std: np.ndarray
    sigma_data: float
    energy_range: tuple[float, float]
    points_range: tuple[float, float]

    @classmethod
    def fit(cls, energy: np.ndarray, showers: list[np.ndarray], sigma_data: float) -> "PointScaler":
        feats = _features(np.concatenate(showers))
        counts = [len(s) for s in showers]
        return cls(feats.mean(0), feats.std(0), sigma_data, (float(energy.min()), float(energy.max())),
                   (float(min(counts)), float(max(counts))))

    def points(self, showers: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Normalised points of all showers, the layer index dequantised with uniform noise."""
        feats = _features(np.concatenate(showers))
        feats[:, 1] += rng.uniform(-0.5, 0.5, len(feats))
        return ((feats - self.mean) / self.std * self.sigma_data).astype(np.float32)

    def unscale(self, x: np.ndarray) -> np.ndarray:
        """Network space -> (x, continuous layer, z, e GeV)."""
        feats = x / self.sigma_data * self.std + self.mean
        feats[:, 3] = np.exp(feats[:, 3])
        return feats

    def context(self, energy: np.ndarray, n_points: np.ndarray) -> np.ndarray:
        return np.stack([_to_unit(energy, self.energy_range), _to_unit(n_points, self.points_range)], -1).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "sigma_data": self.sigma_data,
                "energy_range": list(self.energy_range), "points_range": list(self.points_range)}

    @classmethod
    def from_dict(cls, d: dict) -> "PointScaler":
        return cls(np.array(d["mean"]), np.array(d["std"]), d["sigma_data"], tuple(d["energy_range"]),
                   tuple(d["points_range"]))


def _features(points: np.ndarray) -> np.ndarray:
    feats = points.astype(np.float64).copy()
    feats[:, 3] = np.log(feats[:, 3])
    return feats


def _to_unit(value: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    lo, hi = span
    return 2 * (np.asarray(value, dtype=np.float64) - lo) / max(hi - lo, 1e-12) - 1


def shower_features(showers: list[np.ndarray]) -> np.ndarray:
    """What ShowerFlow models per shower: ln(points), ln(visible energy), the energy-weighted centre
    (x, z), then the share of points and of energy in each of the 30 layers: (N, 64)."""
    rows = []
    for s in showers:
        layer = s[:, 1].astype(np.int64)
        e = s[:, 3].astype(np.float64)
        total = e.sum()
        counts = np.bincount(layer, minlength=N_LAYERS)[:N_LAYERS]
        energies = np.bincount(layer, weights=e, minlength=N_LAYERS)[:N_LAYERS]
        rows.append(np.concatenate([[np.log(len(s)), np.log(total), (s[:, 0] * e).sum() / total,
                                     (s[:, 2] * e).sum() / total], counts / len(s), energies / total]))
    return np.asarray(rows)


def split_features(row: np.ndarray) -> tuple[int, float, tuple[float, float], np.ndarray, np.ndarray]:
    """A ShowerFlow sample -> (points, visible energy GeV, centre (x, z), points per layer (sum =
    points), energy share per layer (sum 1)); negative shares are clipped."""
    n = max(1, int(round(np.exp(row[0]))))
    count_share = np.clip(row[4:4 + N_LAYERS], 0, None)
    energy_share = np.clip(row[4 + N_LAYERS:4 + 2 * N_LAYERS], 0, None)
    count_share = count_share / count_share.sum() if count_share.sum() > 0 else np.full(N_LAYERS, 1 / N_LAYERS)
    energy_share = energy_share / energy_share.sum() if energy_share.sum() > 0 else count_share
    return n, float(np.exp(row[1])), (float(row[2]), float(row[3])), _apportion(n, count_share), energy_share


def _apportion(n: int, share: np.ndarray) -> np.ndarray:
    """Integers summing to n in proportion to share (largest remainders)."""
    exact = share * n
    counts = np.floor(exact).astype(np.int64)
    rest = n - counts.sum()
    if rest > 0:
        counts[np.argsort(counts - exact)[:rest]] += 1
    return counts
