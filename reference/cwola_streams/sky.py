"""Sky geometry of the mock: unit vectors, the local (east, north) basis of a frame, the
Galactic -> ICRS rotation (from galpy's own conversion), the GD-1 stream frame of Koposov et al.
2010, and a patch frame whose origin is the patch centre. A proper motion is a tangent vector;
moving it between frames is a projection of the same 3D vector on each frame's local basis."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

K_KMS_PER_KPC_MASYR = 4.740470463  # km/s per (kpc x mas/yr)

# ICRS -> GD-1 (phi1, phi2) (Koposov, Rix & Hogg 2010)
ICRS_TO_GD1 = np.array([[-0.4776303088, -0.1738432154, 0.8611897727],
                        [0.510844589, -0.8524449229, 0.111245042],
                        [0.7147776536, 0.4930681392, 0.4959603976]])


def unit(lon_deg, lat_deg) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(longitude in [0, 360), latitude) in degrees of (..., 3) vectors."""
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0, np.degrees(np.arcsin(np.clip(v[..., 2], -1, 1)))


def local_basis(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of increasing longitude and latitude at each point."""
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    e_lon = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    e_lat = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], axis=-1)
    return e_lon, e_lat


@lru_cache(maxsize=1)
def galactic_to_icrs() -> np.ndarray:
    """The rotation taking Galactic unit vectors to ICRS ones, built from galpy's lb -> radec."""
    from galpy.util import coords

    columns = []
    for l, b in ((0.0, 0.0), (90.0, 0.0), (0.0, 90.0)):
        radec = coords.lb_to_radec(l, b, degree=True, epoch=None)
        columns.append(unit(radec[0], radec[1]))
    return np.stack(columns, axis=1)


def patch_rotation(ra0: float, dec0: float) -> np.ndarray:
    """ICRS -> patch frame: the centre goes to (phi, lambda) = (0, 0), north stays up."""
    e_x = unit(ra0, dec0)
    e_lon, e_lat = local_basis(ra0, dec0)
    return np.stack([e_x, e_lon, e_lat])


def to_frame(rotation: np.ndarray, v_icrs: np.ndarray, mu_icrs: np.ndarray) -> tuple[np.ndarray, ...]:
    """(lon, lat, mu_lon*, mu_lat) in a frame (lon wrapped to (-180, 180]) of ICRS unit vectors and
    3D proper-motion vectors (mas/yr, tangent to the sky)."""
    v = v_icrs @ rotation.T
    mu = mu_icrs @ rotation.T
    lon, lat = lonlat(v)
    lon = np.where(lon > 180, lon - 360, lon)
    e_lon, e_lat = local_basis(lon, lat)
    return lon, lat, np.sum(mu * e_lon, axis=-1), np.sum(mu * e_lat, axis=-1)


def proper_motion_vector(lon, lat, mu_lon_star, mu_lat) -> np.ndarray:
    """The 3D tangent vector of a proper motion given in a frame's (lon, lat) components."""
    e_lon, e_lat = local_basis(lon, lat)
    return mu_lon_star[..., None] * e_lon + mu_lat[..., None] * e_lat
