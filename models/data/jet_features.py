"""Per-constituent and jet-level features of the hls4ml LHC jet dataset, computed with numpy.

Conventions (where the public dataset leaves them open, ours are stated here):
- eta is pseudorapidity, phi in (-pi, pi]; *_rel are relative to the jet axis, phi_rel wrapped.
- eta_rot/phi_rot: (eta_rel, phi_rel) rotated so that the pT-weighted principal axis of the jet
  lies along +phi_rot (the constituent side with more pT at positive phi_rot); the public files'
  spreads say so (p95 - p5 over the first 30 constituents: phi_rot 0.322, eta_rot 0.155).
- cos theta_rel: cosine of the 3D angle between constituent and jet momentum.
- Jet observables use the stored (at most 150) constituents; energy-correlation ratios follow
  Larkoski-Salam-Thaler (C2 = e3/e2^2, D2 = e3/e2^3) with z = pT / sum pT; N-subjettiness
  uses exclusive-kT axes and R0 = 0.8. Columns we do not compute are NaN (see COMPUTED_JET_FEATURES).
"""
from __future__ import annotations

import numpy as np

from l1forge.reference.substructure import kinematics, n_subjettiness, wrap_phi

from .layout import J, JET_FEATURES, N_SLOTS, PARTICLE_FEATURES

COMPUTED_JET_FEATURES = (
    "j_ptfrac", "j_pt", "j_eta", "j_mass", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_tau1_b2",
    "j_tau2_b2", "j_tau3_b2", "j_tau32_b1", "j_tau32_b2", "j_zlogz", "j_c1_b0", "j_c1_b1",
    "j_c1_b2", "j_c2_b1", "j_c2_b2", "j_d2_b1", "j_d2_b2", "j_mass_mmdt", "j_multiplicity",
    "j_g", "j_q", "j_w", "j_z", "j_t", "j_undef",
)


def invariant_mass(p4: np.ndarray) -> np.ndarray:
    m2 = p4[..., 3] ** 2 - p4[..., 0] ** 2 - p4[..., 1] ** 2 - p4[..., 2] ** 2
    return np.sqrt(np.clip(m2, 0.0, None))


def cone_constituents(cons: np.ndarray, jet: np.ndarray, radius: float, iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The (k, 4) constituents within `radius` of an axis re-centred on them, and that axis (the
    4-momentum sum of the kept constituents): start at the jet axis, keep what lies within the
    radius, move the axis to their sum, until the kept set is stable (a stable cone)."""
    c = kinematics(cons)
    axis, keep = jet, None
    for _ in range(iterations):
        a = kinematics(axis)
        inside = np.hypot(c["eta"] - a["eta"], wrap_phi(c["phi"] - a["phi"])) < radius
        if not inside.any():  # a jet whose core is empty at this radius: keep its hardest particle
            inside = c["pt"] == c["pt"].max()
        if keep is not None and np.array_equal(inside, keep):
            break
        keep, axis = inside, cons[inside].sum(axis=0)
    return cons[keep], axis


def constituent_features(cons: np.ndarray, jet: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    """The 16 per-constituent features, (n, 150, 16), from padded (n, 150, 4) momenta and (n, 4) jets.

    pT_rel and E_rel are relative to the jet; the angles (eta_rel, phi_rel, the rotated ones,
    Delta R, cos theta_rel) to `axis` ((n, 4) momenta; default the jet's own axis).
    Padded slots (E == 0) get all-zero features, as in the public files.
    """
    axis = jet if axis is None else axis
    real = cons[..., 3] > 0
    c, j, a = kinematics(cons), kinematics(jet), kinematics(axis)
    deta = c["eta"] - a["eta"][:, None]
    dphi = wrap_phi(c["phi"] - a["phi"][:, None])
    major, minor = _rotate_to_principal_axis(deta, dphi, c["pt"] * real)
    with np.errstate(divide="ignore", invalid="ignore"):
        costheta = np.where(real, cons[..., 2] / np.where(real, c["p"], 1.0), 0.0)
        pdot = np.einsum("nki,ni->nk", cons[..., :3], axis[:, :3])
        costhetarel = np.where(real, pdot / np.where(real, c["p"] * a["p"][:, None], 1.0), 0.0)
    cols = {
        "px": cons[..., 0], "py": cons[..., 1], "pz": cons[..., 2], "e": cons[..., 3],
        "erel": cons[..., 3] / jet[:, None, 3], "pt": c["pt"], "ptrel": c["pt"] / j["pt"][:, None],
        "eta": c["eta"], "etarel": deta, "etarot": minor, "phi": c["phi"], "phirel": dphi,
        "phirot": major, "deltaR": np.hypot(deta, dphi), "costheta": costheta,
        "costhetarel": np.clip(costhetarel, -1.0, 1.0),
    }
    out = np.stack([cols[name[3:]] for name in PARTICLE_FEATURES], axis=-1)
    out[~real] = 0.0
    return out


def _rotate_to_principal_axis(deta, dphi, w):
    """Rotate (deta, dphi) per jet so the w-weighted principal axis points along +x."""
    sw = w.sum(axis=1, keepdims=True)
    sw = np.where(sw > 0, sw, 1.0)
    cxx = (w * deta * deta).sum(1, keepdims=True) / sw
    cyy = (w * dphi * dphi).sum(1, keepdims=True) / sw
    cxy = (w * deta * dphi).sum(1, keepdims=True) / sw
    angle = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    cos, sin = np.cos(angle), np.sin(angle)
    x, y = cos * deta + sin * dphi, -sin * deta + cos * dphi
    sign = np.where((w * x).sum(1, keepdims=True) >= 0, 1.0, -1.0)  # more pT on +x
    return sign * x, sign * y


def energy_correlations(cons: np.ndarray, betas: tuple[float, ...]) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Normalised (e2, e3) per beta over all pairs and triples (padded slots carry z = 0)."""
    c = kinematics(cons)
    z = c["pt"] / c["pt"].sum(1, keepdims=True)
    dr = np.hypot(c["eta"][:, :, None] - c["eta"][:, None, :],
                  wrap_phi(c["phi"][:, :, None] - c["phi"][:, None, :]))
    idx = np.arange(dr.shape[1])
    out = {}
    for beta in betas:
        a = dr**beta if beta != 0 else np.ones_like(dr)
        a[:, idx, idx] = 0.0
        e2 = 0.5 * np.einsum("ni,nij,nj->n", z, a, z)
        e3 = np.einsum("ni,nij,nj,nij->n", z, a, z, (a * z[:, None, :]) @ a) / 6.0
        out[beta] = (e2, e3)
    return out


def jet_features(cons: np.ndarray, jet: np.ndarray, multiplicity: np.ndarray, truth_pt: np.ndarray,
                 labels: np.ndarray, subjet_axes: list[np.ndarray], mass_mmdt: np.ndarray) -> np.ndarray:
    """The 59 `jets` columns; columns not in COMPUTED_JET_FEATURES are NaN."""
    n = len(jet)
    out = np.full((n, len(JET_FEATURES)), np.nan)
    j = kinematics(jet)
    out[:, J["j_pt"]] = j["pt"]
    out[:, J["j_eta"]] = j["eta"]
    out[:, J["j_mass"]] = invariant_mass(jet)
    out[:, J["j_ptfrac"]] = j["pt"] / truth_pt
    out[:, J["j_multiplicity"]] = multiplicity
    out[:, J["j_mass_mmdt"]] = mass_mmdt
    for beta, tag in ((1.0, "b1"), (2.0, "b2")):
        t1, t2, t3 = n_subjettiness(cons, subjet_axes, beta)
        out[:, J[f"j_tau1_{tag}"]], out[:, J[f"j_tau2_{tag}"]], out[:, J[f"j_tau3_{tag}"]] = t1, t2, t3
        out[:, J[f"j_tau32_{tag}"]] = t3 / t2
    pt = kinematics(cons)["pt"]
    z = pt / pt.sum(1, keepdims=True)
    out[:, J["j_zlogz"]] = np.where(z > 0, z * np.log(np.where(z > 0, z, 1.0)), 0.0).sum(1)
    ecf = energy_correlations(cons, (0.0, 1.0, 2.0))
    for beta, tag in ((0.0, "b0"), (1.0, "b1"), (2.0, "b2")):
        e2, e3 = ecf[beta]
        out[:, J[f"j_c1_{tag}"]] = e2
        if beta > 0:
            out[:, J[f"j_c2_{tag}"]] = e3 / e2**2
            out[:, J[f"j_d2_{tag}"]] = e3 / e2**3
    out[:, J["j_undef"]] = 0.0
    out[:, J["j_g"]:J["j_t"] + 1] = np.eye(5)[labels]
    return out


def pad_constituents(per_jet: list[np.ndarray]) -> np.ndarray:
    """Sort each jet's (k, 4) constituents by pT (descending), keep 150, zero-pad: (n, 150, 4)."""
    out = np.zeros((len(per_jet), N_SLOTS, 4))
    for i, p in enumerate(per_jet):
        order = np.argsort(-np.hypot(p[:, 0], p[:, 1]), kind="stable")[:N_SLOTS]
        out[i, :len(order)] = p[order]
    return out
