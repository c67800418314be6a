"""The physics of a shower file (generated or public), as a table per incident-energy bin and plots.

Per shower: the calibrated energy (CaloChallenge files store it already; CaloClouds points are
visible energy, divided here by each layer's visible fraction), the energy per layer and per radial
bin about the shower axis, and the hit count (voxels above the readout threshold; for points, cells
above half a MIP). Per energy bin: linearity <E/E0>, resolution sigma(E/E0)/<E/E0>, the depth of the
mean longitudinal profile's maximum t_max (radiation lengths, from a parabola through the log of
the profile around its peak), the radius holding 90 % of the recorded energy (R90), mean hits.
Fits: sigma/E = a/sqrt(E) (+) c, and t_max = s ln(E/Ec) + C (and C with s = 1, the PDG form).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from l1forge.compiler.errors import L1ForgeError

from .formats import iter_point_clouds, iter_voxel_showers, shower_kind
from .geometry import GEOMETRIES, Geometry

POINT_RADIAL_EDGES_MM = np.arange(0.0, 200.0 + 1e-9, 2.0)
MIN_SHOWERS_PER_BIN = 30


@dataclass
class ShowerObservables:
    """Per-shower observables of a file."""
    geometry: Geometry
    incident_gev: np.ndarray  # (N,)
    total_gev: np.ndarray  # (N,) calibrated
    layers_gev: np.ndarray  # (N, layers) calibrated
    radial_gev: np.ndarray  # (N, radial bins) calibrated
    radial_edges_mm: np.ndarray
    hits: np.ndarray  # (N,)
    points: np.ndarray | None  # (N,) points per shower for point clouds


def observables(path: str | Path, limit: int | None = None) -> ShowerObservables:
    """Read a CaloChallenge (ds2/ds3) or CaloClouds (ILD) file into per-shower observables."""
    kind = shower_kind(path)
    if kind is None:
        raise L1ForgeError(f"{path}: neither a CaloChallenge file ('incident_energies', 'showers') nor a "
                           "CaloClouds file ('events', 'energy')")
    return _voxel_observables(path, limit) if kind == "voxels" else _point_observables(path, limit)


def _voxel_observables(path, limit) -> ShowerObservables:
    parts = []
    for name, incident, showers in iter_voxel_showers(path, limit=limit):
        g = GEOMETRIES[name]
        n_r = len(g.r_edges_mm) - 1
        grid = showers.reshape(len(showers), g.n_layers, g.n_alpha, n_r).astype(np.float64) / 1000.0
        parts.append((incident / 1000.0, grid.sum((1, 2, 3)), grid.sum((2, 3)), grid.sum((1, 2)),
                      (showers > 0).sum(1)))
    if not parts:
        raise L1ForgeError(f"{path}: the file holds no showers")
    cols = [np.concatenate(c) for c in zip(*parts)]
    return ShowerObservables(g, *cols[:4], np.asarray(g.r_edges_mm), cols[4], None)


def _point_observables(path, limit) -> ShowerObservables:
    g = GEOMETRIES["ild"]
    rows = []
    for incident, block in iter_point_clouds(path, limit=limit):
        for e0, p in zip(incident, block):
            layer = np.clip(np.rint(p[:, 1]).astype(int), 0, g.n_layers - 1)
            calibrated = p[:, 3] / g.visible_fraction[layer]
            radius = np.hypot(p[:, 0] - g.axis_mm[0], p[:, 2] - g.axis_mm[1])
            cells = np.unique(np.stack([layer, np.floor(p[:, 0] / g.cell_mm), np.floor(p[:, 2] / g.cell_mm)], 1),
                              axis=0, return_inverse=True)[1].reshape(-1)
            cell_mev = np.bincount(cells, weights=p[:, 3] * 1000.0) if len(p) else np.zeros(0)
            rows.append((e0, calibrated.sum(), np.bincount(layer, calibrated, minlength=g.n_layers),
                         np.histogram(radius, POINT_RADIAL_EDGES_MM, weights=calibrated)[0],
                         int((cell_mev > g.cell_threshold_mev).sum()), len(p)))
    if not rows:
        raise L1ForgeError(f"{path}: the file holds no showers")
    e0, total, layers, radial, hits, points = (np.array(c) for c in zip(*rows))
    return ShowerObservables(g, e0, total, np.stack(layers), np.stack(radial), POINT_RADIAL_EDGES_MM, hits, points)


def energy_bins(energy: np.ndarray) -> np.ndarray:
    """Bin edges over the incident energies: one bin for a (nearly) fixed energy, else up to 8
    log-spaced bins holding at least MIN_SHOWERS_PER_BIN showers each on average."""
    lo, hi = float(energy.min()), float(energy.max())
    n = int(min(8, max(1, len(energy) // MIN_SHOWERS_PER_BIN)))
    if hi <= lo * 1.05 or n == 1:
        return np.array([lo, hi * (1 + 1e-9)])
    return np.geomspace(lo, hi * (1 + 1e-9), n + 1)


def profile_maximum(depth: np.ndarray, profile: np.ndarray) -> float:
    """Depth of the maximum of a longitudinal profile: vertex of a parabola through log(profile)
    at the peak layer and its two neighbours on each side."""
    k = int(np.argmax(profile))
    sel = slice(max(0, k - 2), min(len(profile), k + 3))
    x, y = depth[sel], np.log(np.maximum(profile[sel], 1e-12))
    a, b, _ = np.polyfit(x, y, 2)
    return float(-b / (2 * a)) if a < 0 else float(depth[k])


def radius_containing(edges: np.ndarray, radial: np.ndarray, fraction: float) -> float:
    """Radius (mm) within which `fraction` of the recorded energy lies (linear within a bin)."""
    cumulative = np.concatenate([[0.0], np.cumsum(radial)]) / radial.sum()
    return float(np.interp(fraction, cumulative, edges))


def physics_table(obs: ShowerObservables) -> dict:
    """Per energy bin: linearity, resolution, t_max, R90, hits; and the two fits."""
    g = obs.geometry
    edges = energy_bins(obs.incident_gev)
    which = np.clip(np.searchsorted(edges, obs.incident_gev, side="right") - 1, 0, len(edges) - 2)
    depth = g.layer_centres_x0
    thickness = np.diff(g.layer_edges_x0)
    rows = []
    for b in range(len(edges) - 1):
        m = which == b
        if m.sum() < 2:
            continue
        ratio = obs.total_gev[m] / obs.incident_gev[m]
        profile = (obs.layers_gev[m] / obs.total_gev[m, None]).mean(0) / thickness  # dE/dt per unit energy
        radial = obs.radial_gev[m].sum(0)
        rows.append({"e_low_gev": float(edges[b]), "e_high_gev": float(edges[b + 1]), "showers": int(m.sum()),
                     "e_mean_gev": float(obs.incident_gev[m].mean()),
                     "linearity": float(ratio.mean()), "resolution": float(ratio.std() / ratio.mean()),
                     "t_max_x0": profile_maximum(depth, profile),
                     "r90_mm": radius_containing(obs.radial_edges_mm, radial, 0.9),
                     "hits": float(obs.hits[m].mean()),
                     "points": None if obs.points is None else float(obs.points[m].mean()),
                     "profile": profile.tolist(), "radial": (radial / radial.sum()).tolist()})
    moliere = float(g.moliere_mm[0])
    for r in rows:
        r["r90_moliere"] = r["r90_mm"] / moliere
    return {"geometry": g.name, "showers": int(len(obs.incident_gev)), "moliere_mm": moliere,
            "critical_energy_mev": g.sampling_layer.critical_energy, "rows": rows,
            "resolution_fit": fit_resolution(rows), "t_max_fit": fit_t_max(rows, g)}


def fit_resolution(rows: list[dict]) -> dict | None:
    """Least squares of (sigma/E)^2 = a^2 / E + c^2 over the energy bins (E in GeV)."""
    if len(rows) < 2:
        return None
    e = np.array([r["e_mean_gev"] for r in rows])
    s2 = np.array([r["resolution"] for r in rows]) ** 2
    (a2, c2), *_ = np.linalg.lstsq(np.stack([1 / e, np.ones_like(e)], 1), s2, rcond=None)
    return {"stochastic": float(np.sqrt(max(a2, 0.0))), "constant": float(np.sqrt(max(c2, 0.0)))}


def fit_t_max(rows: list[dict], geometry: Geometry) -> dict | None:
    """t_max = slope * ln(E / Ec) + intercept over the energy bins, and the PDG form's constant
    C = mean(t_max - ln(E / Ec)) (slope fixed to 1; far better determined than the intercept)."""
    if len(rows) < 2:
        return None
    ln_y = np.log(np.array([r["e_mean_gev"] for r in rows]) * 1000.0 / geometry.sampling_layer.critical_energy)
    t_max = np.array([r["t_max_x0"] for r in rows])
    slope, intercept = np.polyfit(ln_y, t_max, 1)
    return {"slope": float(slope), "intercept": float(intercept), "pdg_constant": float(np.mean(t_max - ln_y))}


def summarize_showers(path: str | Path, limit: int | None = None) -> dict:
    """The physics table of a file, with its generator settings when it has them."""
    table = physics_table(observables(path, limit))
    with h5py.File(path, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v.tolist() if hasattr(v, "tolist") else v)
                 for k, v in f.attrs.items()}
    table["generator"] = attrs.pop("generator", None)
    table["settings"] = {k: attrs[k] for k in ("particle", "energy_gev", "spectrum", "stochastic_term") if k in attrs}
    return table


def plot_showers(table: dict, out_png: str | Path) -> Path:
    """Longitudinal and radial profiles per energy bin, resolution with its fit, hits vs energy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from l1forge.compiler.atomic import atomic_path

    g = GEOMETRIES[table["geometry"]]
    rows = table["rows"]
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    radial_edges = np.asarray(g.r_edges_mm) if g.kind == "voxels" else POINT_RADIAL_EDGES_MM
    for r in rows:
        label = f"{r['e_low_gev']:.3g}-{r['e_high_gev']:.3g} GeV"
        ax[0, 0].plot(g.layer_centres_x0, r["profile"], marker=".", label=label)
        widths = np.diff(radial_edges)
        ax[0, 1].step(radial_edges[:-1], np.asarray(r["radial"]) / widths, where="post", label=label)
    ax[0, 0].set(xlabel="depth [X0]", ylabel="fraction of energy per X0", title="longitudinal profile")
    ax[0, 1].set(xlabel="r [mm]", ylabel="fraction per mm", yscale="log", title="radial profile")
    ax[0, 0].legend(fontsize=7)
    e = np.array([r["e_mean_gev"] for r in rows])
    ax[1, 0].plot(e, [r["resolution"] for r in rows], "o", label="generated")
    fit = table["resolution_fit"]
    if fit:
        grid = np.geomspace(e.min(), e.max(), 100)
        ax[1, 0].plot(grid, np.hypot(fit["stochastic"] / np.sqrt(grid), fit["constant"]),
                      label=f"{100 * fit['stochastic']:.1f}%/sqrt(E) (+) {100 * fit['constant']:.2f}%")
    ax[1, 0].set(xlabel="E [GeV]", ylabel="sigma(E)/E", xscale="log", yscale="log", title="energy resolution")
    ax[1, 0].legend(fontsize=8)
    ax[1, 1].plot(e, [r["hits"] for r in rows], "o-", label="hits")
    if rows and rows[0]["points"] is not None:
        ax[1, 1].plot(e, [r["points"] for r in rows], "s-", label="points")
    ax[1, 1].set(xlabel="E [GeV]", ylabel="per shower", xscale="log", title="hit multiplicity")
    ax[1, 1].legend(fontsize=8)
    fig.suptitle(f"{table['geometry']}: {table['showers']} showers")
    fig.tight_layout()
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return out_png
