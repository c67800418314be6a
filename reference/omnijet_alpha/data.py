"""Jets as OmniJet-alpha reads them: from a `l1forge data jets` file (reference/jet_data.py), the
leading `n` constituents of each jet as (log(pT / GeV) - 1.8, 3 eta_rel, 3 phi_rel), the authors'
preprocessing (pT = pT_rel x the jet's pT), with a mask of the real ones; top jets (label 1) against
QCD jets (quark and gluon, label 0), as the paper's TTBar against ZJetsToNuNu.

Jet observables of constituents (generated or not): pT and mass of the massless constituents' sum,
their number, and tau21, tau32 (beta 1, exclusive-kT axes); the authors' KL divergences on
histograms between the quantiles of the reference (jetnet_metrics.quantiled_kl)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import DataError
from ..jet_data import CLASSES, read_jets
from ..jetnet_metrics import quantiled_kl
from ..substructure import massless_p4, tau_ratios

LOG_PT_SHIFT, ANGLE_SCALE = 1.8, 3.0
TOP, QCD = ("t",), ("q", "g")
OBSERVABLES = ("pt", "mass", "multiplicity", "tau21", "tau32")


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
    """Jet pT, mass (GeV), multiplicity, tau21 and tau32 of preprocessed constituents (massless
    four-vectors; eta and phi relative to the jet axis, so the sum's pT and mass are those of the
    jet; the tau ratios NaN below 3 constituents)."""
    clouds = np.stack([x[..., 1] / ANGLE_SCALE, x[..., 2] / ANGLE_SCALE,
                       np.exp(x[..., 0].astype(np.float64) + LOG_PT_SHIFT)], -1)
    p = massless_p4(clouds, mask).sum(1)
    return {"pt": np.hypot(p[:, 0], p[:, 1]), "mass": np.sqrt(np.maximum(p[:, 3]**2 - (p[:, :3]**2).sum(1), 0.0)),
            "multiplicity": mask.sum(1).astype(np.float64), **tau_ratios(clouds, mask)}


def kl_divergences(real: dict[str, np.ndarray], generated: dict[str, np.ndarray], bins: int = 30) -> dict:
    """KL(real || generated) per observable on `bins` quantile bins of the real jets (the authors'
    gabbro/metrics/utils.py: 30 quantiles from 0.1 to 99.9 %; they compare bin densities, here bin
    probabilities)."""
    finite = {key: (real[key][np.isfinite(real[key])], generated[key][np.isfinite(generated[key])]) for key in real}
    return {key: quantiled_kl(a, b, bins) for key, (a, b) in finite.items()}
