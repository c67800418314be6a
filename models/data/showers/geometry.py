"""The three calorimeter geometries and their readouts: CaloChallenge 2022 datasets 2 and 3
(cylindrical voxels) and an ILD-ECAL-like point cloud (CaloClouds).

- ds2 / ds3: Geant4 example Par04 as the challenge used it: 90 layers of 1.4 mm W + 0.3 mm Si,
  read out in 45 layers of two; radial bins of 4.65 mm (ds2, 9 bins) or 2.325 mm (ds3, 18 bins)
  out to 41.85 mm and 16 or 50 angular bins; voxel index layer * (n_alpha n_r) + alpha * n_r + r
  (CaloChallenge homepage README and binning_dataset_{2,3}.xml). Energies are stored in MeV as the
  active-layer deposit divided by 0.033 (the scale the challenge's evaluation divides its 0.5 keV
  readout threshold by).
- ild: 30 Si layers (0.525 mm) behind 20 x 2.1 mm + 10 x 4.2 mm W (the ILD ECAL's layer pitch as
  in the CaloClouds files); hits clustered on a grid of 6 x 6 sub-cells per 5.0883 mm cell
  ("x36 grid"), stored as points (x, y = layer index, z, e) with x and z in mm about a shower axis at
  (0, 40) mm, e the active-layer deposit in GeV, right-aligned in (N, 4, 6000) with zeros in front.
Only absorber and active layers are modelled (no PCB, glue, air gaps or support).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .physics import Layer, Medium, Spots

# The visible (active-layer) share of the deposit, relative to the minimum-ionising sampling fraction:
# 0.911 makes the Par04 W/Si layer's visible fraction 0.033, the scale of the CaloChallenge files.
E_OVER_MIP = 0.911


@dataclass(frozen=True)
class Geometry:
    name: str
    description: str
    layers: tuple[Layer, ...]
    particle: str  # the public data set's particle (default of --particle)
    energy_gev: tuple[float, float]  # the public data set's energy range
    spectrum: str  # "log-uniform" or "flat"
    stochastic_term: float  # a in sigma/E = a / sqrt(E/GeV), the sampling term of the deposit
    sampling_layer: Layer  # one physical absorber + active pair: the medium the parametrisation sees
    # cylindrical voxels
    r_edges_mm: tuple[float, ...] = ()
    n_alpha: int = 0
    store_scale: float = 1.0  # stored energy = active deposit [MeV] / store_scale
    voxel_threshold_mev: float = 0.0  # in stored units; voxels below are zeroed
    # point clouds
    cell_mm: float = 0.0
    subcells: int = 0
    x_range_mm: tuple[float, float] = (0.0, 0.0)
    z_range_mm: tuple[float, float] = (0.0, 0.0)
    axis_mm: tuple[float, float] = (0.0, 0.0)
    max_points: int = 0
    cell_threshold_mev: float = 0.0  # half a MIP, for cell-level observables

    @property
    def kind(self) -> str:
        return "voxels" if self.n_alpha else "points"

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_voxels(self) -> int:
        return self.n_layers * self.n_alpha * (len(self.r_edges_mm) - 1)

    @cached_property
    def layer_edges_x0(self) -> np.ndarray:
        """Depth of each layer's front (and the back of the last), radiation lengths."""
        return np.concatenate([[0.0], np.cumsum([layer.depth_x0 for layer in self.layers])])

    @cached_property
    def layer_centres_x0(self) -> np.ndarray:
        """Depth of each layer's active material, radiation lengths."""
        return self.layer_edges_x0[1:] - np.array([l.active_mm / l.active.x0_mm for l in self.layers]) / 2

    @cached_property
    def moliere_mm(self) -> np.ndarray:
        return np.array([layer.moliere_mm for layer in self.layers])

    @cached_property
    def visible_fraction(self) -> np.ndarray:
        return np.array([layer.sampling_fraction_mip * E_OVER_MIP for layer in self.layers])

    @property
    def medium(self) -> Medium:
        return Medium.of(self.sampling_layer)


def _par04(name: str, n_radial: int, n_alpha: int) -> Geometry:
    width = 41.85 / n_radial
    return Geometry(
        name, f"CaloChallenge dataset {name[-1]}: 45 layers x {n_alpha} angular x {n_radial} radial bins "
              f"(Par04 W/Si, {45 * n_alpha * n_radial} voxels)",
        layers=(Layer(2.8, 0.6),) * 45, particle="electron", energy_gev=(1.0, 1000.0), spectrum="log-uniform",
        stochastic_term=0.17, sampling_layer=Layer(1.4, 0.3), r_edges_mm=tuple(round(i * width, 4) for i in range(n_radial + 1)), n_alpha=n_alpha,
        store_scale=0.033, voxel_threshold_mev=0.5e-3 / 0.033)


ILD_CELL_MM = 5.0883331298828125
GEOMETRIES = {
    "ds2": _par04("ds2", 9, 16),
    "ds3": _par04("ds3", 18, 50),
    "ild": Geometry(
        "ild", "ILD-ECAL-like: 30 Si layers behind 20 x 2.1 mm + 10 x 4.2 mm W, 5.09 mm cells, points on a "
               "6 x 6 sub-cell grid (CaloClouds layout)",
        layers=(Layer(2.1, 0.525),) * 20 + (Layer(4.2, 0.525),) * 10, particle="photon", energy_gev=(10.0, 90.0),
        spectrum="flat", stochastic_term=0.166, sampling_layer=Layer(2.1, 0.525), cell_mm=ILD_CELL_MM, subcells=6, x_range_mm=(-200.0, 200.0),
        z_range_mm=(-160.0, 240.0), axis_mm=(0.0, 40.0), max_points=6000, cell_threshold_mev=0.1),
}


@dataclass
class Deposits:
    """Spots placed in the readout: layer index, transverse position (mm, about the axis) and the
    energy seen by the active layer (MeV), for the spots inside the calorimeter's depth."""
    shower: np.ndarray
    layer: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    visible_mev: np.ndarray


def place(spots: Spots, geometry: Geometry) -> Deposits:
    """Assign spots to layers (those behind the last layer leak out) and to transverse positions."""
    layer = np.searchsorted(geometry.layer_edges_x0, spots.depth_x0, side="right") - 1
    inside = layer < geometry.n_layers
    layer = layer[inside]
    radius = spots.radius_rm[inside] * geometry.moliere_mm[layer]
    angle = spots.angle[inside]
    visible = spots.energy_gev[inside] * 1000.0 * geometry.visible_fraction[layer]
    return Deposits(spots.shower[inside], layer, radius * np.cos(angle), radius * np.sin(angle), visible)


def voxelise(deposits: Deposits, n_showers: int, geometry: Geometry) -> np.ndarray:
    """(n_showers, n_voxels) float32 in stored units (MeV / store_scale), readout threshold applied."""
    edges = np.asarray(geometry.r_edges_mm)
    n_r = len(edges) - 1
    radius = np.hypot(deposits.x_mm, deposits.y_mm)
    r_bin = np.searchsorted(edges, radius, side="right") - 1
    alpha = np.arctan2(deposits.y_mm, deposits.x_mm)
    a_bin = np.minimum(((alpha + np.pi) / (2 * np.pi) * geometry.n_alpha).astype(np.int64), geometry.n_alpha - 1)
    inside = r_bin < n_r
    voxel = (deposits.layer * geometry.n_alpha + a_bin) * n_r + r_bin
    flat = deposits.shower[inside] * geometry.n_voxels + voxel[inside]
    energy = np.bincount(flat, weights=deposits.visible_mev[inside], minlength=n_showers * geometry.n_voxels)
    showers = (energy / geometry.store_scale).reshape(n_showers, geometry.n_voxels)
    showers[showers < geometry.voxel_threshold_mev] = 0.0
    return showers.astype(np.float32)


def cluster_points(deposits: Deposits, n_showers: int, geometry: Geometry) -> tuple[list[np.ndarray], np.ndarray]:
    """Sum the deposits on the sub-cell grid: per shower an (k, 4) array of points (x, y = layer,
    z, e [GeV]) at the sub-cell centres; deposits outside the stored area are dropped."""
    pitch = geometry.cell_mm / geometry.subcells
    x = deposits.x_mm + geometry.axis_mm[0]
    z = deposits.y_mm + geometry.axis_mm[1]
    inside = ((x >= geometry.x_range_mm[0]) & (x < geometry.x_range_mm[1])
              & (z >= geometry.z_range_mm[0]) & (z < geometry.z_range_mm[1]))
    ix = np.floor(x[inside] / pitch).astype(np.int64)
    iz = np.floor(z[inside] / pitch).astype(np.int64)
    ix0, iz0 = int(np.floor(geometry.x_range_mm[0] / pitch)), int(np.floor(geometry.z_range_mm[0] / pitch))
    nx = int(np.ceil(geometry.x_range_mm[1] / pitch)) - ix0 + 1
    nz = int(np.ceil(geometry.z_range_mm[1] / pitch)) - iz0 + 1
    key = ((deposits.shower[inside] * geometry.n_layers + deposits.layer[inside]) * nx + (ix - ix0)) * nz + (iz - iz0)
    unique, inverse = np.unique(key, return_inverse=True)
    energy = np.bincount(inverse, weights=deposits.visible_mev[inside]) / 1000.0
    iz_u = unique % nz + iz0
    rest = unique // nz
    ix_u = rest % nx + ix0
    rest //= nx
    layer_u = rest % geometry.n_layers
    shower_u = rest // geometry.n_layers
    points = np.stack([(ix_u + 0.5) * pitch, layer_u.astype(float), (iz_u + 0.5) * pitch, energy], axis=1)
    counts = np.bincount(shower_u, minlength=n_showers)
    return np.split(points, np.cumsum(counts)[:-1]), counts


def pad_points(points: list[np.ndarray], width: int) -> np.ndarray:
    """(n, 4, width) float32, each shower's points right-aligned (zeros in front), as CaloClouds reads them."""
    out = np.zeros((len(points), 4, width), dtype=np.float32)
    for i, p in enumerate(points):
        if len(p):
            out[i, :, width - len(p):] = p.T
    return out


def binning_xml(geometry: Geometry, pid: int, particle: str) -> str:
    """The geometry's binning in the CaloChallenge binning_dataset_N.xml structure."""
    edges = ",".join(f"{e:g}" for e in geometry.r_edges_mm)
    rows = [f'    <Layer id="{i}" r_edges="{edges}" n_bin_alpha="{geometry.n_alpha}" />' for i in range(geometry.n_layers)]
    return "\n".join(["<Bins>", f'  <Bin pid="{pid}" name="{particle}">', *rows, "  </Bin>", "</Bins>", ""])
