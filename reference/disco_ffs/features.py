"""The candidate features DisCo-FFS selects from: every prime EFP up to a degree, for each
(kappa, beta) of a grid (the authors: degree <= 7, 490 graphs, kappa in {-1, 0, 1/2, 1, 2},
beta in {1/2, 1, 2}: 7,350), plus the jet-level features the selection starts from (jet mass and
pT). Columns that are constant, or repeat an earlier column exactly, are dropped (the graph with no
edge is 1 at kappa = 1 whatever beta; the authors drop a candidate equal to a chosen one).

The EFPs enter as their logarithms (all are positive; a jet of one particle has 0 for every graph
with an edge, which is clipped to the column's smallest positive value). Raw, they span over 30
decades at kappa = -1 (a degree-5 tree there weighs each soft particle by 1 / z^k), which overflows
a float32 network's inputs and lets a handful of jets dominate a distance; the authors' code also
has a path for logarithmic EFPs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..efp import describe, efp_values, prime_efps
from ..jet_data import Jets


@dataclass
class FeatureTable:
    values: np.ndarray       # (jets, features) float64
    names: list[str]
    n_initial: int           # the first columns: the features the selection starts from
    n_dropped: int           # constant or duplicate EFP columns left out


def efp_name(graph, kappa: float, beta: float) -> str:
    return f"EFP {describe(graph)} kappa={kappa:g} beta={beta:g}"


def feature_table(jets: Jets, initial: tuple[str, ...], max_degree: int, kappas: tuple[float, ...],
                  betas: tuple[float, ...], progress=lambda _: None) -> FeatureTable:
    """The initial jet-level columns (jets.jet, named `initial`), then the distinct EFP columns."""
    graphs = prime_efps(max_degree)
    columns, names = [], []
    for kappa in kappas:
        for beta in sorted(betas, reverse=True):  # a repeated edge at beta equals a single one at 2 beta: keep that
            columns.append(efp_values(jets.constituents, jets.mask, graphs, kappa, beta))
            names += [efp_name(g, kappa, beta) for g in graphs]
            progress(f"EFPs kappa={kappa:g} beta={beta:g}: {len(graphs)} graphs")
    efps = np.concatenate(columns, 1)
    positive = np.where(efps > 0, efps, np.inf).min(0)
    efps = np.log(np.maximum(efps, np.where(np.isfinite(positive), positive, 1.0)))
    varies = efps.std(0) > 1e-9 * np.maximum(np.abs(efps).mean(0), 1.0)
    _, first = np.unique(efps, axis=1, return_index=True)
    keep = np.sort(first[varies[first]])
    initial_values = np.zeros((len(jets), 0)) if jets.jet is None else jets.jet
    if initial_values.shape[1] != len(initial):
        raise ValueError(f"the jets carry {initial_values.shape[1]} jet-level columns, expected {len(initial)}")
    return FeatureTable(np.concatenate([initial_values, efps[:, keep]], 1), list(initial) + [names[k] for k in keep],
                        len(initial), efps.shape[1] - len(keep))
