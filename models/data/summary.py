"""Per-class summary of a jet file, and the jet-mass plot."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np

from .jets import JetSettings
from .layout import CLASSES, CONSTITUENTS_KEY, JETS_KEY, J, P
from .loader import read_jet_file

MASS_BINS = np.arange(0.0, 300.0 + 1e-9, 4.0)


def mass_peak(masses: np.ndarray, bandwidth: float = 4.0) -> float:
    """Most probable mass: the maximum of a Gaussian kernel density estimate (0.25 GeV grid)."""
    masses = np.asarray(masses, dtype=np.float64)
    grid = np.arange(0.0, 400.0, 0.25)
    density = np.zeros_like(grid)
    for lo in range(0, len(masses), 4096):  # bounded memory on big files
        d = (grid[:, None] - masses[None, lo:lo + 4096]) / bandwidth
        density += np.exp(-0.5 * d * d).sum(axis=1)
    return float(grid[int(np.argmax(density))])


def summarize_jets(path: str | Path) -> dict:
    """Counts, multiplicities and mass peaks per class (uses the file's `jets` observables)."""
    _, labels = read_jet_file(path, n_slots=1)  # checks the layout; the summary needs no features
    out = {"path": str(path), "jets": int(len(labels)), "generator": None, "settings": {}, "classes": {}}
    with h5py.File(path, "r") as f:
        jets = np.asarray(f[JETS_KEY])
        n_real = (np.asarray(f[CONSTITUENTS_KEY][:, :, P["e"]]) > 0).sum(axis=1)  # 1/16 of the array
        # what made the file (generated files record it; public ones do not)
        if "generator" in f.attrs:
            out["generator"] = str(f.attrs["generator"])
        out["settings"] = {k.name: np.asarray(f.attrs[k.name]).tolist() for k in fields(JetSettings) if k.name in f.attrs}
    for i, cls in enumerate(CLASSES):
        sel = labels == i
        m = jets[sel, J["j_mass"]]
        out["classes"][cls] = {
            "jets": int(sel.sum()),
            "mean_constituents": float(n_real[sel].mean()) if sel.any() else float("nan"),
            "mass_peak": mass_peak(m) if sel.any() else float("nan"),
            "mass_median": float(np.median(m)) if sel.any() else float("nan"),
            "pt_mean": float(jets[sel, J["j_pt"]].mean()) if sel.any() else float("nan"),
        }
    return out


def plot_jet_mass(path: str | Path, out_png: str | Path) -> Path:
    """Jet-mass histogram per class, normalised, to a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, labels = read_jet_file(path, n_slots=1)
    with h5py.File(path, "r") as f:
        mass = np.asarray(f[JETS_KEY][:, J["j_mass"]])
        radius = float(f.attrs["radius"]) if "radius" in f.attrs else None
        window = np.asarray(f.attrs["jet_pt"]).tolist() if "jet_pt" in f.attrs else None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, cls in enumerate(CLASSES):
        ax.hist(mass[labels == i], bins=MASS_BINS, histtype="step", density=True, lw=1.6, label=cls)
    for ref in (80.4, 91.2, 172.7):
        ax.axvline(ref, color="0.6", ls=":", lw=1)
    ax.set_xlabel("jet mass [GeV]")
    ax.set_ylabel("fraction of jets / 4 GeV")
    made = ([f"anti-kT R={radius:g}"] if radius else []) + ([f"{window[0]:g} < pT < {window[1]:g} GeV"] if window else [])
    ax.set_title(f"{Path(path).name}" + (": " + ", ".join(made) if made else ""))
    ax.legend(frameon=False)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png
