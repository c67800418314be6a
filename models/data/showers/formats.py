"""The public shower layouts and their loaders.

- CaloChallenge 2022 (datasets 2 and 3): `incident_energies` (N, 1) and `showers` (N, voxels), MeV;
  voxel index layer * (n_alpha n_r) + alpha * n_r + r.
- CaloClouds (ILD ECAL photons): `events` (N, 4, width) with rows (x, y, z, e), each shower's
  points right-aligned after zero padding, `energy` (N, 1) in GeV; l1forge adds `n_points` (N,).
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from l1forge.compiler.errors import L1ForgeError

INCIDENT_KEY = "incident_energies"
SHOWERS_KEY = "showers"
CALOCLOUDS_EVENTS_KEY = "events"
CALOCLOUDS_ENERGY_KEY = "energy"
N_POINTS_KEY = "n_points"
VOXEL_COUNTS = {6480: "ds2", 40500: "ds3"}


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise L1ForgeError(f"{path}: no such shower file")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise L1ForgeError(f"{path}: not an HDF5 file (expected a CaloChallenge or CaloClouds shower file)") from None


def shower_kind(path: str | Path) -> str | None:
    """'voxels' (CaloChallenge), 'points' (CaloClouds) or None when the file has neither layout."""
    with _open(path) as f:
        if SHOWERS_KEY in f and INCIDENT_KEY in f:
            return "voxels"
        if CALOCLOUDS_EVENTS_KEY in f and CALOCLOUDS_ENERGY_KEY in f:
            return "points"
    return None


def _require(path, f: h5py.File, keys: tuple[str, ...], layout: str) -> None:
    for key in keys:
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise L1ForgeError(f"{path}: missing dataset '{key}' (expected the {layout})")


def _check_voxels(path, f: h5py.File) -> str:
    _require(path, f, (INCIDENT_KEY, SHOWERS_KEY),
             f"CaloChallenge layout: '{INCIDENT_KEY}' (N, 1) and '{SHOWERS_KEY}' (N, voxels), MeV")
    inc, sh = f[INCIDENT_KEY], f[SHOWERS_KEY]
    if inc.ndim != 2 or inc.shape[1] != 1:
        raise L1ForgeError(f"{path}: dataset '{INCIDENT_KEY}' has shape {inc.shape}, expected (N, 1)")
    if sh.ndim != 2 or sh.shape[0] != inc.shape[0]:
        raise L1ForgeError(f"{path}: dataset '{SHOWERS_KEY}' has shape {sh.shape}, expected ({inc.shape[0]}, voxels)")
    if sh.shape[1] not in VOXEL_COUNTS:
        raise L1ForgeError(f"{path}: {sh.shape[1]} voxels per shower; known geometries have "
                           + ", ".join(f"{count} ({name})" for count, name in VOXEL_COUNTS.items()))
    return VOXEL_COUNTS[sh.shape[1]]


def iter_voxel_showers(path: str | Path, block: int = 2000, limit: int | None = None):
    """Yield (geometry name, incident energies (n,) MeV, showers (n, voxels) float32 MeV) blocks of a
    CaloChallenge file (checked first)."""
    with _open(path) as f:
        geometry = _check_voxels(path, f)
        n = len(f[INCIDENT_KEY]) if limit is None else min(limit, len(f[INCIDENT_KEY]))
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            yield (geometry, np.asarray(f[INCIDENT_KEY][lo:hi, 0], dtype=np.float64),
                   np.asarray(f[SHOWERS_KEY][lo:hi], dtype=np.float32))


def read_voxel_showers(path: str | Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(incident energies (N,) MeV, showers (N, voxels) MeV, geometry name) of a CaloChallenge file."""
    blocks = list(iter_voxel_showers(path, limit=limit))
    if not blocks:
        with _open(path) as f:
            return np.zeros(0), np.zeros((0, f[SHOWERS_KEY].shape[1]), np.float32), _check_voxels(path, f)
    return np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks]), blocks[0][0]


def iter_point_clouds(path: str | Path, block: int = 1000, limit: int | None = None):
    """Yield (incident energies (n,) GeV, per shower a (k, 4) float32 array of points (x, y, z, e))
    blocks of a CaloClouds-layout file (checked first); points are the columns with e > 0."""
    with _open(path) as f:
        _require(path, f, (CALOCLOUDS_EVENTS_KEY, CALOCLOUDS_ENERGY_KEY),
                 f"CaloClouds layout: '{CALOCLOUDS_EVENTS_KEY}' (N, 4, points) and '{CALOCLOUDS_ENERGY_KEY}' (N, 1), GeV")
        ev, en = f[CALOCLOUDS_EVENTS_KEY], f[CALOCLOUDS_ENERGY_KEY]
        if ev.ndim != 3 or ev.shape[1] != 4:
            raise L1ForgeError(f"{path}: dataset '{CALOCLOUDS_EVENTS_KEY}' has shape {ev.shape}, expected (N, 4, points)")
        if en.shape[0] != ev.shape[0] or en.size != en.shape[0]:
            raise L1ForgeError(f"{path}: dataset '{CALOCLOUDS_ENERGY_KEY}' has shape {en.shape}, expected ({ev.shape[0]}, 1)")
        n = ev.shape[0] if limit is None else min(limit, ev.shape[0])
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            events = np.asarray(ev[lo:hi], dtype=np.float32)
            yield np.asarray(en[lo:hi], dtype=np.float64).reshape(-1), [e[:, e[3] > 0].T for e in events]


def read_point_clouds(path: str | Path, limit: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(incident energies (N,) GeV, per shower its (k, 4) points) of a CaloClouds-layout file."""
    energies, points = [np.zeros(0)], []
    for energy, block in iter_point_clouds(path, limit=limit):
        energies.append(energy)
        points.extend(block)
    return np.concatenate(energies), points
