"""Jets as OmniJet-alpha reads them: from a `l1forge data jets` file (reference/jet_data.py), the
leading `n` constituents of each jet as (log(pT / GeV) - 1.8, 3 eta_rel, 3 phi_rel), the authors'
preprocessing (pT = pT_rel x the jet's pT), with a mask of the real ones; top jets (label 1) against
QCD jets (quark and gluon, label 0), as the paper's TTBar against ZJetsToNuNu.

Jet observables of constituents (generated or not): pT and mass of the massless constituents' sum
and their number; the paper's KL divergences on histograms between the quantiles of the reference
(jetnet_metrics.quantiled_kl)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import DataError
from ..jet_data import CLASSES, read_jets
from ..jetnet_metrics import quantiled_kl

LOG_PT_SHIFT, ANGLE_SCALE = 1.8, 3.0
TOP, QCD = ("t",), ("q", "g")
OBSERVABLES = ("pt", "mass", "multiplicity")


@dataclass
class TokenJets:
    x: np.ndarray     # (N, n, 3) float32 preprocessed, zero past the last constituent
    mask: np.ndarray  # (N, n) bool
    label: np.ndarray  # (N,) int: 1 top, 0 QCD

    def __len__(self) -> int:
        return len(self.label)

    def select(self, rows) -> "TokenJets":
        return TokenJets(self.x[rows], self.mask[rows], self.label[rows])


def read_token_jets(path: str | Path, n: int, limit: int | None = None) -> TokenJets:
    """Top and QCD jets of a jet file (among its first `limit` jets), as many of each."""
    jets = read_jets(path, n, limit, jet_columns=("j_pt",)).of_classes(TOP + QCD)
    if not len(jets):
        raise DataError(f"{path}: no top or QCD (quark, gluon) jets in the file")
    is_top = np.isin(jets.label, [CLASSES.index(c) for c in TOP])
    if is_top.all() or not is_top.any():
        raise DataError(f"{path}: OmniJet-alpha needs both top and QCD jets; the file has only "
                        f"{'top' if is_top.all() else 'QCD'} jets")
    # Balanced classes, as the paper's: as many QCD jets (quark and gluon, in file order) as top jets.
    n_each = min(is_top.sum(), (~is_top).sum())
    keep = np.sort(np.concatenate([np.nonzero(is_top)[0][:n_each], np.nonzero(~is_top)[0][:n_each]]))
    jets, is_top = jets.select(keep), is_top[keep]
    pt = jets.constituents[..., 0] * jets.jet[:, :1].astype(np.float32)
    x = np.stack([np.log(np.maximum(pt, 1e-6)) - LOG_PT_SHIFT, ANGLE_SCALE * jets.constituents[..., 1],
                  ANGLE_SCALE * jets.constituents[..., 2]], -1) * jets.mask[..., None]
    return TokenJets(x.astype(np.float32), jets.mask, is_top.astype(np.int64))


def observables(x: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Jet pT, mass (GeV) and multiplicity of preprocessed constituents (massless four-vectors;
    eta and phi relative to the jet axis, so the sum's pT and mass are those of the jet)."""
    pt = np.where(mask, np.exp(x[..., 0].astype(np.float64) + LOG_PT_SHIFT), 0.0)
    eta, phi = x[..., 1] / ANGLE_SCALE, x[..., 2] / ANGLE_SCALE
    e, pz = (pt * np.cosh(eta)).sum(1), (pt * np.sinh(eta)).sum(1)
    px, py = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)
    return {"pt": np.hypot(px, py), "mass": np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0)),
            "multiplicity": mask.sum(1).astype(np.float64)}


def kl_divergences(real: dict[str, np.ndarray], generated: dict[str, np.ndarray], bins: int = 30) -> dict:
    """KL(real || generated) per observable on `bins` quantile bins of the real jets (the authors'
    gabbro/metrics/utils.py: 30 quantiles from 0.1 to 99.9 %; they compare bin densities, here bin
    probabilities)."""
    return {key: quantiled_kl(real[key], generated[key], bins) for key in real}
