"""The parametric "CMS-like" detector of the public jet files: what their constituents are made of.

The hls4ml jet files (Zenodo 3602260) were processed with the trackObservables code of
arXiv:1709.08705 (github.com/nhanvtran/trackObservables, processing/anaSubstructure.cpp) in its
configuration tagged "r1_h022_e0175_t220" ("CMS-like"). This module is our own implementation of
that description, vectorised over a batch of events:
- charged hadrons up to 220 GeV pT and all charged leptons stay single particles (tracks, 100 %
  efficient); charged hadrons above 220 GeV pT (where the tracker fails inside a jet core) are
  treated as neutral hadrons;
- photons are summed per ECAL cell (about 0.0175 x 0.0175 in eta x phi), neutral hadrons per HCAL
  cell (about 0.022 x 0.022), both over |eta| < 3 (outside the grid, nothing); each cell with
  energy becomes one massless particle at the cell centre (no threshold);
- every output particle is then scaled by a Gaussian factor N(1, sigma/E) with the source's
  resolutions: tracks sqrt((2.5e-4 pT)^2 + 0.015^2); ECAL cells
  sqrt(0.027^2 1.6/E + (0.15 * 1.6 / E)^2 + 0.005^2); HCAL cells sqrt(1.2^2 * 7 / E + 0.05^2)
  (E in GeV; the factors 1.6 and 7 stand for the charged energy particle flow subtracts first).
A grid has floor(range / nominal cell) cells spread evenly over its range, as a ROOT histogram.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DETECTORS = ("none", "cms")
CHARGED_HADRONS = (211, 321, 2212, 3112, 3222, 3312, 3334)  # |PDG id|
LEPTONS = (11, 13, 15)
PHOTONS = (22, 111)
NEUTRAL_HADRONS = (130, 310, 2112, 3122, 3322)
MAX_TRACK_PT = 220.0  # GeV: charged hadrons above it are reconstructed as neutral hadrons
TRACK_RESOLUTION = (2.5e-4, 0.015)  # sigma/pT = sqrt((a pT)^2 + b^2)
GRID_ETA = 3.0


@dataclass(frozen=True)
class Calorimeter:
    cell: float  # nominal cell size in eta and in phi
    stochastic: float  # S: sigma/E = sqrt(S^2 / E + (N / E)^2 + C^2), E in GeV
    noise: float  # N
    constant: float  # C

    def cells(self) -> tuple[int, int]:
        """(eta, phi) cell counts of the grid over |eta| < GRID_ETA and the full circle."""
        return int(np.floor(2 * GRID_ETA / self.cell)), int(np.floor(2 * np.pi / self.cell))

    def relative_resolution(self, e: np.ndarray) -> np.ndarray:
        return np.sqrt(self.stochastic ** 2 / e + (self.noise / e) ** 2 + self.constant ** 2)


ECAL = Calorimeter(0.0175, 0.027 * np.sqrt(1.6), 0.15 * 1.6, 0.005)
HCAL = Calorimeter(0.022, 1.2 * np.sqrt(7.0), 0.0, 0.05)


def track_resolution(pt: np.ndarray) -> np.ndarray:
    a, b = TRACK_RESOLUTION
    return np.sqrt((a * pt) ** 2 + b ** 2)


def _cells(calo: Calorimeter, event: np.ndarray, energy: np.ndarray, eta: np.ndarray,
           phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum energy per (event, cell) inside the grid; return (event, (m, 4) massless cell momenta)."""
    n_eta, n_phi = calo.cells()
    ieta = np.floor((eta + GRID_ETA) / (2 * GRID_ETA) * n_eta).astype(np.int64)
    iphi = np.floor(np.mod(phi, 2 * np.pi) / (2 * np.pi) * n_phi).astype(np.int64)
    inside = (ieta >= 0) & (ieta < n_eta) & (iphi < n_phi)
    key = (event[inside] * n_eta + ieta[inside]) * n_phi + iphi[inside]
    cells, inverse = np.unique(key, return_inverse=True)
    e = np.bincount(inverse.ravel(), weights=energy[inside], minlength=len(cells))
    keep = e > 0
    cells, e = cells[keep], e[keep]
    cell_eta = -GRID_ETA + (cells // n_phi % n_eta + 0.5) * (2 * GRID_ETA / n_eta)
    cell_phi = (cells % n_phi + 0.5) * (2 * np.pi / n_phi)
    pt = e / np.cosh(cell_eta)
    return cells // (n_phi * n_eta), np.stack([pt * np.cos(cell_phi), pt * np.sin(cell_phi), pt * np.sinh(cell_eta), e], axis=1)


def reconstruct(rng: np.random.Generator, event: np.ndarray, p4: np.ndarray, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The detector's particles made of stable visible particles.

    event: (k,) event index of each particle; p4: (k, 4) px, py, pz, E; pid: (k,) PDG ids.
    Returns (event index, (m, 4) momenta), ordered by event. Particles of no listed kind are
    dropped (as in the source).
    """
    aid = np.abs(pid)
    pt = np.hypot(p4[:, 0], p4[:, 1])
    eta = np.arcsinh(p4[:, 2] / np.maximum(pt, 1e-12))
    phi = np.arctan2(p4[:, 1], p4[:, 0])
    charged = np.isin(aid, CHARGED_HADRONS)
    single = (charged & (pt <= MAX_TRACK_PT)) | np.isin(aid, LEPTONS)
    photon = np.isin(aid, PHOTONS)
    hadronic = (charged & ~single) | np.isin(aid, NEUTRAL_HADRONS)
    parts = [(event[single], p4[single], track_resolution(pt[single]))]
    for mask, calo in ((photon, ECAL), (hadronic, HCAL)):
        ev, cells = _cells(calo, event[mask], p4[mask, 3], eta[mask], phi[mask])
        parts.append((ev, cells, calo.relative_resolution(cells[:, 3])))
    ev = np.concatenate([p[0] for p in parts])
    out = np.concatenate([p[1] for p in parts])
    sigma = np.concatenate([p[2] for p in parts])
    out = out * np.maximum(1e-10, 1 + sigma * rng.standard_normal(len(sigma)))[:, None]
    order = np.argsort(ev, kind="stable")
    return ev[order], out[order]
