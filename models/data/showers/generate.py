"""`l1forge data showers`: parametric showers written in the public layouts, on all cores.

Showers are made in fixed chunks whose random streams derive from (seed, chunk index), and the
chunks are written in order, so a file is byte-identical for the same arguments whatever the core
count. Files are cached by their arguments and written atomically.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from l1forge.compiler.atomic import atomic_path, write_atomic
from l1forge.compiler.errors import L1ForgeError

from ..parallel import from_cache, iter_chunks
from .formats import CALOCLOUDS_ENERGY_KEY, CALOCLOUDS_EVENTS_KEY, INCIDENT_KEY, N_POINTS_KEY, SHOWERS_KEY
from .geometry import GEOMETRIES, Geometry, binning_xml, cluster_points, pad_points, place, voxelise
from .physics import PARTICLES, sample_spots, spot_energy_gev

SHOWER_GENERATOR_VERSION = "1"  # bump when the physics or the layout changes: it invalidates caches
CHUNK_SHOWERS = 200
VALID_ENERGY_GEV = (1.0, 1000.0)  # Grindhammer-Peters was fitted on 1-100 GeV; above, its ln E scaling
SPECTRA = ("log-uniform", "flat")
_H5 = dict(compression="gzip", compression_opts=4, shuffle=True, track_times=False)


@dataclass(frozen=True)
class ShowerSettings:
    """What is simulated; None fields take the geometry's public defaults (see shower_settings)."""
    geometry: str
    particle: str
    energy_gev: tuple[float, float]
    spectrum: str
    stochastic_term: float

    def check(self) -> None:
        lo, hi = self.energy_gev
        if not VALID_ENERGY_GEV[0] <= lo <= hi <= VALID_ENERGY_GEV[1]:
            raise L1ForgeError(f"--energy {lo:g},{hi:g} GeV is outside the shower model's range "
                               f"{VALID_ENERGY_GEV[0]:g}-{VALID_ENERGY_GEV[1]:g} GeV (LOW <= HIGH)")
        if self.spectrum not in SPECTRA:
            raise L1ForgeError(f"--spectrum must be one of {', '.join(SPECTRA)}, got {self.spectrum!r}")
        if not 0.01 <= self.stochastic_term <= 1.0:
            raise L1ForgeError(f"--stochastic-term must be between 0.01 and 1 (a in sigma/E = a/sqrt(E/GeV)), "
                               f"got {self.stochastic_term:g}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.to_dict().items()))


def shower_settings(geometry: str, *, particle: str | None = None, energy: str | None = None,
                 spectrum: str | None = None, stochastic_term: float | None = None) -> ShowerSettings:
    """The geometry's public defaults with the given options changed (energy as 'LOW,HIGH' or 'E' in GeV)."""
    if geometry not in GEOMETRIES:
        raise L1ForgeError(f"unknown --geometry {geometry!r}; choose one of {', '.join(GEOMETRIES)}")
    if particle is not None and particle not in PARTICLES:
        raise L1ForgeError(f"unknown --particle {particle!r}; choose one of {', '.join(PARTICLES)}")
    g = GEOMETRIES[geometry]
    settings = ShowerSettings(geometry, g.particle, g.energy_gev, g.spectrum, g.stochastic_term)
    window = None if energy is None else _energy_window(energy)
    changes = {"particle": particle, "energy_gev": window, "spectrum": spectrum, "stochastic_term": stochastic_term}
    settings = replace(settings, **{k: v for k, v in changes.items() if v is not None})
    settings.check()
    return settings


def _energy_window(text: str) -> tuple[float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2):
        raise L1ForgeError(f"--energy must be LOW,HIGH or one energy, in GeV; got {text!r}")
    return values[0], values[-1]


def incident_energies(settings: ShowerSettings, n: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = settings.energy_gev
    if settings.spectrum == "flat":
        return rng.uniform(lo, hi, n)
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


@dataclass
class ShowerChunk:
    energy_gev: np.ndarray  # (n,)
    data: np.ndarray | list  # voxels (n, n_voxels) float32, or a list of (k, 4) point arrays
    n_points: np.ndarray | None
    seconds: float


def generate_chunk(settings: ShowerSettings, seed: int, index: int, n: int) -> ShowerChunk:
    """n showers of chunk `index` (one core)."""
    start = time.perf_counter()
    geometry = GEOMETRIES[settings.geometry]
    rng = np.random.default_rng([seed, index])
    energy = incident_energies(settings, n, rng)
    spots = sample_spots(energy, settings.particle, geometry.medium, settings.stochastic_term, rng)
    deposits = place(spots, geometry)
    if geometry.kind == "voxels":
        return ShowerChunk(energy, voxelise(deposits, n, geometry), None, time.perf_counter() - start)
    points, counts = cluster_points(deposits, n, geometry)
    return ShowerChunk(energy, points, counts, time.perf_counter() - start)


def cache_key(n: int, seed: int, settings: ShowerSettings) -> str:
    text = f"showers:{SHOWER_GENERATOR_VERSION}:{n}:{seed}:{settings.key()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def binning_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + "_binning.xml")


def generate_showers(n: int, seed: int, out: str | Path, settings: ShowerSettings, workers: int | None = None,
                     progress: bool = True) -> dict:
    """Write n showers to `out` (HDF5, the geometry's public layout; for voxel geometries also
    OUT_binning.xml); reuse the cache. Returns path, cache path, whether cached, core-seconds."""
    if n < 1:
        raise L1ForgeError(f"--n must be >= 1, got {n}")
    settings.check()
    cached, hit, seconds = from_cache("showers", cache_key(n, seed, settings), out,
                                      lambda path: _generate_to(path, n, seed, settings, workers, progress))
    geometry = GEOMETRIES[settings.geometry]
    if geometry.kind == "voxels":
        write_atomic(binning_path(out), binning_xml(geometry, PARTICLES[settings.particle], settings.particle))
    return {"path": str(out), "cache": str(cached), "cached": hit, "core_seconds": seconds}


def _generate_to(path: Path, n: int, seed: int, settings: ShowerSettings, workers: int | None, progress: bool) -> float:
    geometry = GEOMETRIES[settings.geometry]
    plan = [(settings, seed, index, min(CHUNK_SHOWERS, n - lo)) for index, lo in enumerate(range(0, n, CHUNK_SHOWERS))]
    chunks = iter_chunks(plan, generate_chunk, label=f"generating {settings.geometry} showers", total=n,
                         size=lambda args: args[3], workers=workers, progress=progress)
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=False) as f:
        if geometry.kind == "voxels":
            seconds = _write_voxels(f, chunks, n, geometry)
        else:
            seconds = _write_points(f, chunks, n, settings)
        f.attrs["generator"] = f"l1forge showers v{SHOWER_GENERATOR_VERSION} (parametric Grindhammer-Peters)"
        f.attrs["description"] = geometry.description
        f.attrs["seed"] = seed
        for k, v in settings.to_dict().items():
            f.attrs[k] = v if isinstance(v, str) else np.asarray(v)
    return seconds


def _write_voxels(f: h5py.File, chunks, n: int, geometry: Geometry) -> float:
    energies = f.create_dataset(INCIDENT_KEY, (n, 1), dtype="f4", **_H5)
    showers = f.create_dataset(SHOWERS_KEY, (n, geometry.n_voxels), dtype="f4",
                               chunks=(min(n, 64), geometry.n_voxels), **_H5)
    lo, seconds = 0, 0.0
    for chunk in chunks:
        hi = lo + len(chunk.energy_gev)
        energies[lo:hi, 0] = chunk.energy_gev * 1000.0  # MeV, as the challenge files
        showers[lo:hi] = chunk.data
        lo, seconds = hi, seconds + chunk.seconds
    return seconds


def point_width(settings: ShowerSettings) -> int:
    """Padded points per shower: the public 6000, or more when the highest energy's spot count
    (points <= spots, Poisson with mean E/e0) could exceed it (mean + 10 sigma)."""
    mean = settings.energy_gev[1] / spot_energy_gev(settings.stochastic_term)
    return max(GEOMETRIES[settings.geometry].max_points, int(np.ceil(mean + 10 * np.sqrt(mean))))


def _write_points(f: h5py.File, chunks, n: int, settings: ShowerSettings) -> float:
    width = point_width(settings)
    events = f.create_dataset(CALOCLOUDS_EVENTS_KEY, (n, 4, width), dtype="f4", chunks=(min(n, 64), 4, width), **_H5)
    energies = f.create_dataset(CALOCLOUDS_ENERGY_KEY, (n, 1), dtype="f4", **_H5)
    n_points = f.create_dataset(N_POINTS_KEY, (n,), dtype="i4", **_H5)
    lo, seconds = 0, 0.0
    for chunk in chunks:
        hi = lo + len(chunk.energy_gev)
        if chunk.n_points.max() > width:
            raise L1ForgeError(f"a shower has {chunk.n_points.max()} points, more than the {width} planned")
        events[lo:hi] = pad_points(chunk.data, width)
        energies[lo:hi, 0] = chunk.energy_gev
        n_points[lo:hi] = chunk.n_points
        lo, seconds = hi, seconds + chunk.seconds
    return seconds
