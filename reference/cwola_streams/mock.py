"""A mock Gaia patch: a smooth Milky Way foreground/halo and a GD-1-like cold stream, observed as
Gaia would list them (positions, proper motions, BP-RP colour, G magnitude), in a patch frame.

Stated physics (ours; the paper uses real Gaia DR2 patches):
- Stream: a progenitor placed on the GD-1 anchor of Koposov et al. 2010 (phi1 = -13 deg, 8.84 kpc,
  mu_phi1* = -10.28, mu_phi2 = -2.43 mas/yr, v_r = -182 km/s; each mock perturbs distance, proper
  motions and the anchor's phi1) is integrated back RELEASE_GYR in galpy's MWPotential2014; its
  stars leave it then with a small spread in position and velocity and are integrated forward to
  today (a cluster dissolved at once and phase-mixed along its orbit: a thin, long stream).
- Smooth stars: a disk population (distances log-normal about 1.5 kpc, velocities of the local
  disk: rotation 220 km/s minus an asymmetric drift, dispersions 35/25/20 km/s) and a halo
  (log-uniform 3-40 kpc, isotropic 110 km/s, no rotation), uniform over the patch, seen from a Sun
  moving at (11.1, 232.24, 7.25) km/s (Schoenrich et al. 2010, V_c = 220 km/s, galpy's defaults).
- Colours and magnitudes: a parametric isochrone (main-sequence turn-off at M_G 3.8 + 0.3
  ([Fe/H] + 1.6), BP-RP 0.62 + 0.12 ([Fe/H] + 1.6); main sequence redder and fainter below it,
  subgiants/giants redder above it), a luminosity function rising as 10^(0.2 M_G); the stream at
  [Fe/H] = -1.6 (the authors' mocks), the halo about -1.5, the disk about -0.3; Gaia-like errors.
- Gaia's magnitude limit G < 20.2 (the authors' cut) applies to everything listed.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .sky import (ICRS_TO_GD1, K_KMS_PER_KPC_MASYR, galactic_to_icrs, local_basis, lonlat, patch_rotation,
                  proper_motion_vector, to_frame, unit)

RO_KPC, VO_KMS = 8.0, 220.0
SUN_VELOCITY = np.array([11.1, VO_KMS + 12.24, 7.25])  # km/s, Galactic (towards GC, rotation, NGP)
G_LIMIT = 20.2
GD1_ANCHOR = {"phi1": -13.0, "phi2": 0.0, "distance": 8.84, "mu_phi1": -10.28, "mu_phi2": -2.43, "v_r": -182.0}
RELEASE_GYR = 2.0
COLUMNS = ("phi", "lambda", "mu_phi_star", "mu_lambda", "colour", "g", "stream")


@dataclass(frozen=True)
class PatchSpec:
    """What one mock holds."""
    n_background: int
    n_stream: int          # stars released (before the patch and magnitude cuts)
    radius_deg: float = 15.0
    halo_fraction: float = 0.35
    stream_velocity_spread: float = 0.6  # km/s
    stream_position_spread: float = 0.01  # kpc


def isochrone_colour(m_g: np.ndarray, feh: np.ndarray | float) -> np.ndarray:
    """BP-RP of a star of absolute magnitude M_G on the parametric old isochrone."""
    m_to = 3.8 + 0.3 * (np.asarray(feh) + 1.6)
    c_to = 0.62 + 0.12 * (np.asarray(feh) + 1.6)
    below = m_g - m_to  # > 0: main sequence
    main = c_to + 0.11 * below + 0.015 * below**2
    giant = c_to + 0.12 * np.abs(below) ** 0.8
    return np.where(below >= 0, main, giant)


def _absolute_magnitudes(rng, n: int) -> np.ndarray:
    """M_G in [0, 8] with density rising as 10^(0.2 M_G)."""
    a, lo, hi = 0.2 * np.log(10), 0.0, 8.0
    u = rng.uniform(size=n)
    return np.log(np.exp(a * lo) + u * (np.exp(a * hi) - np.exp(a * lo))) / a


def _photometry(rng, distance_kpc: np.ndarray, feh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m_g = _absolute_magnitudes(rng, len(distance_kpc))
    g = m_g + 5 * np.log10(distance_kpc * 100.0)  # distance modulus: 5 log10(d / 10 pc)
    sigma = 0.003 + 0.03 * 10 ** (0.4 * (g - G_LIMIT))
    colour = isochrone_colour(m_g, feh) + rng.normal(0, 0.02, len(g)) + sigma * rng.normal(size=len(g))
    return colour, g + 0.3 * sigma * rng.normal(size=len(g))


def _galactic_velocity_to_pm(v_helio_gal: np.ndarray, v_icrs_unit: np.ndarray, distance_kpc: np.ndarray) -> np.ndarray:
    """3D proper-motion vectors (ICRS, mas/yr) of heliocentric Galactic-frame velocities (km/s)."""
    v_icrs = v_helio_gal @ galactic_to_icrs().T
    tangential = v_icrs - np.sum(v_icrs * v_icrs_unit, axis=-1, keepdims=True) * v_icrs_unit
    return tangential / (K_KMS_PER_KPC_MASYR * distance_kpc[:, None])


def _in_cap(rng, centre: np.ndarray, radius_deg: float, n: int) -> np.ndarray:
    """n unit vectors uniform in the cap of this radius about `centre` (ICRS)."""
    cos_r = np.cos(np.radians(radius_deg))
    z = rng.uniform(cos_r, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    local = np.stack([z, np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi)], axis=1)
    ra0, dec0 = lonlat(centre)
    return local @ patch_rotation(float(ra0), float(dec0))


def smooth_stars(rng, centre: np.ndarray, spec: PatchSpec) -> dict[str, np.ndarray]:
    """The disk and halo stars of a patch: ICRS unit vectors, 3D proper motions, colour, G."""
    n = spec.n_background
    halo = rng.uniform(size=n) < spec.halo_fraction
    distance = np.where(halo, np.exp(rng.uniform(np.log(3.0), np.log(40.0), n)), np.exp(rng.normal(np.log(1.5), 0.6, n)))
    disk_v = np.array([0.0, VO_KMS - 15.0, 0.0]) + rng.normal(size=(n, 3)) * np.array([35.0, 25.0, 20.0])
    halo_v = rng.normal(0.0, 110.0, size=(n, 3))
    v_gal = np.where(halo[:, None], halo_v, disk_v) - SUN_VELOCITY
    position = _in_cap(rng, centre, spec.radius_deg, n)
    feh = np.where(halo, rng.normal(-1.5, 0.4, n), rng.normal(-0.3, 0.25, n))
    colour, g = _photometry(rng, distance, feh)
    return {"position": position, "mu": _galactic_velocity_to_pm(v_gal, position, distance), "colour": colour,
            "g": g}


@contextmanager
def _quiet_galpy():
    """galpy announces its C integrator with a warning on every integration; nothing to act on."""
    from galpy.util import galpyWarningVerbose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", galpyWarningVerbose)
        yield


def _anchor(rng) -> dict[str, float]:
    """A GD-1-like progenitor today: the anchor with its distance and proper motions perturbed."""
    return {"phi1": GD1_ANCHOR["phi1"] + rng.uniform(-15, 15), "phi2": 0.0,
            "distance": GD1_ANCHOR["distance"] * rng.uniform(0.8, 1.2),
            "mu_phi1": GD1_ANCHOR["mu_phi1"] * rng.uniform(0.9, 1.1),
            "mu_phi2": GD1_ANCHOR["mu_phi2"] + rng.normal(0, 0.3), "v_r": GD1_ANCHOR["v_r"] + rng.normal(0, 10)}


def stream_stars(rng, spec: PatchSpec) -> dict[str, np.ndarray]:
    """A GD-1-like stream by galpy orbit integration (module docstring): ICRS unit vectors, 3D
    proper motions, colour, G of every released star, and the progenitor's anchor."""
    from galpy.orbit import Orbit
    from galpy.potential import MWPotential2014

    anchor = _anchor(rng)
    v = unit(anchor["phi1"], anchor["phi2"]) @ ICRS_TO_GD1  # GD-1 -> ICRS (the matrix is orthogonal)
    ra, dec = lonlat(v)
    mu = proper_motion_vector(np.array(anchor["phi1"]), np.array(anchor["phi2"]), np.array(anchor["mu_phi1"]),
                              np.array(anchor["mu_phi2"])) @ ICRS_TO_GD1
    e_ra, e_dec = local_basis(ra, dec)
    progenitor = Orbit([float(ra), float(dec), anchor["distance"], float(mu @ e_ra), float(mu @ e_dec), anchor["v_r"]],
                       radec=True, ro=RO_KPC, vo=VO_KMS, solarmotion="schoenrich")
    t_release = -RELEASE_GYR * VO_KMS / RO_KPC * 1.0227121650537077  # Gyr -> galpy's natural time
    with _quiet_galpy():
        progenitor.integrate(np.linspace(0.0, t_release, 1001), MWPotential2014, method="dop853_c", progressbar=False)
    start = progenitor(t_release)
    n = spec.n_stream
    xyz = np.array([start.x(use_physical=False), start.y(use_physical=False), start.z(use_physical=False)])
    vxyz = np.array([start.vx(use_physical=False), start.vy(use_physical=False), start.vz(use_physical=False)])
    xyz = xyz + rng.normal(0, spec.stream_position_spread / RO_KPC, (n, 3))
    vxyz = vxyz + rng.normal(0, spec.stream_velocity_spread / VO_KMS, (n, 3))
    r_cyl = np.hypot(xyz[:, 0], xyz[:, 1])
    v_r = (xyz[:, 0] * vxyz[:, 0] + xyz[:, 1] * vxyz[:, 1]) / r_cyl
    v_t = (xyz[:, 0] * vxyz[:, 1] - xyz[:, 1] * vxyz[:, 0]) / r_cyl
    stars = Orbit(np.column_stack([r_cyl, v_r, v_t, xyz[:, 2], vxyz[:, 2], np.arctan2(xyz[:, 1], xyz[:, 0])]),
                  ro=RO_KPC, vo=VO_KMS, solarmotion="schoenrich")
    with _quiet_galpy():
        stars.integrate(np.linspace(0.0, -t_release, 201), MWPotential2014, method="dop853_c", progressbar=False)
    now = stars(-t_release)
    position = unit(now.ra(), now.dec())
    e_ra, e_dec = local_basis(now.ra(), now.dec())
    mu = now.pmra()[:, None] * e_ra + now.pmdec()[:, None] * e_dec
    colour, g = _photometry(rng, now.dist(), np.full(n, -1.6))
    return {"position": position, "mu": mu, "colour": colour, "g": g, "anchor": anchor}


def mock_patch(seed: int, spec: PatchSpec) -> tuple[np.ndarray, dict]:
    """One mock: rows of COLUMNS (patch frame; `stream` 1 for stream stars) of every star in the
    patch with G < G_LIMIT, and what was drawn (centre, anchor). The patch centre lies on the
    stream, a few degrees (radius / 6 per axis) from its densest point, so the stream crosses the patch."""
    rng = np.random.default_rng(seed)
    stream = stream_stars(rng, spec)
    # The patch centre: near the median position of the stream's stars that pass the magnitude cut.
    bright = stream["g"] < G_LIMIT
    along = stream["position"][bright]
    centre = np.median(along, axis=0)
    centre = along[np.argmin(np.linalg.norm(along - centre, axis=1))]
    offset = rng.normal(size=3) * np.radians(spec.radius_deg / 6)
    centre = centre + offset - np.dot(offset, centre) * centre
    centre /= np.linalg.norm(centre)
    smooth = smooth_stars(rng, centre, spec)
    ra0, dec0 = (float(a) for a in lonlat(centre))
    rotation = patch_rotation(ra0, dec0)
    rows = []
    for stars, label in ((smooth, 0), (stream, 1)):
        phi, lam, mu_phi, mu_lam = to_frame(rotation, stars["position"], stars["mu"])
        inside = (np.hypot(phi, lam) < spec.radius_deg) & (stars["g"] < G_LIMIT)  # small-angle radius
        rows.append(np.column_stack([phi, lam, mu_phi, mu_lam, stars["colour"], stars["g"],
                                     np.full(len(phi), label)])[inside])
    table = np.concatenate(rows)
    table = table[rng.permutation(len(table))]
    return table, {"centre_ra": ra0, "centre_dec": dec0, "anchor": stream["anchor"]}
