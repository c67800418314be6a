"""Jet kinematics and N-subjettiness (Thaler, Van Tilburg, arXiv 1011.2268) on exclusive-kT axes,
of zero-padded constituent 4-vectors (n, k, 4) as (px, py, pz, E): shared by the jet generators
(models/data) and the references' jet observables (tau21, tau32 of generated jets)."""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

R0 = 0.8


def kinematics(p4: np.ndarray) -> dict[str, np.ndarray]:
    """pt, eta, phi, |p| of (..., 4) arrays of (px, py, pz, E); zero vectors give zeros, not NaN."""
    px, py, pz = p4[..., 0], p4[..., 1], p4[..., 2]
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(np.divide(pz, pt, where=pt > 0, out=np.zeros_like(pt))), 0.0)
    return {"pt": pt, "eta": eta, "phi": np.arctan2(py, px), "p": np.sqrt(px**2 + py**2 + pz**2)}


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap an angle difference into (-pi, pi]."""
    return np.pi - np.mod(np.pi - dphi, 2 * np.pi)


@contextmanager
def no_exclusive_warning():
    """fastjet 3.5.2 compares a JetDefinition with an algorithm enum, so it warns about every
    exclusive clustering, kt and C/A included; the warning does not apply to ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="dcut and exclusive jets", category=UserWarning)
        yield


def as_awkward(cons: np.ndarray):
    """Padded (n, k, 4) constituents (E > 0 marks a real one) as fastjet's awkward input."""
    import awkward as ak

    real = cons[..., 3] > 0
    rows = [dict(px=c[m, 0], py=c[m, 1], pz=c[m, 2], E=c[m, 3]) for c, m in zip(cons, real)]
    return ak.zip({k: ak.Array([r[k] for r in rows]) for k in ("px", "py", "pz", "E")})


def exclusive_kt_axes(cons: np.ndarray, radius: float = R0, counts: tuple[int, ...] = (1, 2, 3)) -> list[np.ndarray]:
    """For each N of counts, the N exclusive-kT subjets of each padded constituent list: (n, N, 4).
    Every list needs at least max(counts) constituents."""
    import awkward as ak
    import fastjet

    cluster = fastjet.ClusterSequence(as_awkward(cons), fastjet.JetDefinition(fastjet.kt_algorithm, radius))
    axes = []
    for n in counts:
        with no_exclusive_warning():
            sub = cluster.exclusive_jets(n_jets=n)
        axes.append(np.stack([ak.to_numpy(sub[f]) for f in ("px", "py", "pz", "E")], axis=-1))
    return axes


def n_subjettiness(cons: np.ndarray, axes: list[np.ndarray], beta: float) -> list[np.ndarray]:
    """tau_N^beta for each axes[N-1] of shape (n, N, 4); normalised by sum pT * R0^beta."""
    c = kinematics(cons)
    norm = c["pt"].sum(1) * R0**beta
    taus = []
    for ax in axes:
        a = kinematics(ax)
        dr = np.hypot(c["eta"][:, :, None] - a["eta"][:, None, :],
                      wrap_phi(c["phi"][:, :, None] - a["phi"][:, None, :]))
        taus.append((c["pt"] * dr.min(axis=2) ** beta).sum(1) / norm)
    return taus


def massless_p4(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n, k, 4) four-vectors of massless particles given as (eta_rel, phi_rel, pT_rel, ...)."""
    eta, phi, pt = x[..., 0].astype(np.float64), x[..., 1].astype(np.float64), np.where(mask, x[..., 2], 0.0)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1) * mask[..., None]


def tau_ratios(x: np.ndarray, mask: np.ndarray, batch: int = 500) -> dict[str, np.ndarray]:
    """tau21 and tau32 (beta = 1, exclusive-kT axes) of clouds (eta_rel, phi_rel, pT_rel, ...);
    NaN for clouds of fewer than 3 particles (the authors drop those jets)."""
    p4 = massless_p4(x, mask)
    ok = np.nonzero((p4[..., 3] > 0).sum(1) >= 3)[0]
    tau21, tau32 = np.full(len(x), np.nan), np.full(len(x), np.nan)
    for lo in range(0, len(ok), batch):
        rows = ok[lo:lo + batch]
        t1, t2, t3 = n_subjettiness(p4[rows], exclusive_kt_axes(p4[rows]), beta=1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            tau21[rows], tau32[rows] = t2 / t1, t3 / t2
    return {"tau21": tau21, "tau32": tau32}
