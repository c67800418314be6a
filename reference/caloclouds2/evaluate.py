"""The paper's evaluation: W1 distances of the shower observables against the reference showers,
with bootstrap errors, a reference-vs-reference baseline (two halves of the data), and the
distributions as a plot."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .observables import SCALARS, WEIGHTED, Observables, distances_with_errors, shower_features

LABELS = {"n_hits": "hits", "energy_sum": "visible energy [GeV]", "cog_x": "centre x [mm]",
          "cog_y": "centre y [layer]", "cog_z": "centre z [mm]", "longitudinal": "layer (energy-weighted)",
          "radial": "radius to centre [mm] (energy-weighted)", "hit_energy": "hit energy [MeV]"}


def compare(ref: Observables, generated: dict[str, Observables], n_boot: int = 10, seed: int = 0) -> dict:
    """{name: {observable: {w1, error}}} for every generated sample and for half of the reference
    against its other half (the floor a perfect generator of this many showers reaches)."""
    half = ref.n_showers // 2
    table = {"reference halves": distances_with_errors(ref.subset(np.arange(half)),
                                                       ref.subset(np.arange(half, 2 * half)), n_boot, seed)}
    for name, obs in generated.items():
        table[name] = distances_with_errors(ref, obs, n_boot, seed)
    return table


def classifier_auc(ref: Observables, gen: Observables, seed: int = 0, epochs: int = 200) -> float:
    """Two-sample test of the paper's kind: a small MLP learns to tell reference showers from
    generated ones on their high-level features (shower_features); the ROC AUC on held-out showers,
    averaged over the two halves of a 2-fold split. 0.5: indistinguishable; 1: always told apart.
    The samples must be independent: a shower in both (a copy) is learned with both labels and
    pushes the AUC below 0.5."""
    import torch
    from scipy.stats import rankdata

    x = np.concatenate([shower_features(ref), shower_features(gen)]).astype(np.float32)
    y = np.concatenate([np.zeros(ref.n_showers), np.ones(gen.n_showers)]).astype(np.float32)
    fold = np.random.default_rng(seed).permutation(len(x)) % 2
    aucs = []
    for k in (0, 1):
        train, test = fold != k, fold == k
        mean, std = x[train].mean(0), x[train].std(0) + 1e-6
        xt, xv = torch.from_numpy((x[train] - mean) / std), torch.from_numpy((x[test] - mean) / std)
        torch.manual_seed(seed + k)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                  torch.nn.ReLU(), torch.nn.Linear(64, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        yt = torch.from_numpy(y[train])
        for _ in range(epochs):  # full batch: a few thousand showers
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(1), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            score = net(xv).squeeze(1).numpy()
        ranks, positive = rankdata(score), y[test] == 1
        n_pos, n_neg = positive.sum(), (~positive).sum()
        aucs.append(float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)))
    return float(np.mean(aucs))


def plot(ref: Observables, generated: dict[str, Observables], path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(SCALARS) + list(WEIGHTED)
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    samples = {"reference": ref, **generated}
    for ax, key in zip(axes.flat, names):
        values = {n: _values(o, key) for n, o in samples.items()}
        lo = min(np.percentile(v[0], 0.5) for v in values.values() if len(v[0]))
        hi = max(np.percentile(v[0], 99.5) for v in values.values() if len(v[0]))
        if key == "hit_energy":
            bins = np.geomspace(max(lo, 1e-3), hi, 50)
        elif key == "longitudinal":
            bins = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0)
        else:
            bins = np.linspace(lo, hi, 50)
        for n, (v, w) in values.items():
            ax.hist(v, bins=bins, weights=w, histtype="step" if n != "reference" else "stepfilled",
                    alpha=0.35 if n == "reference" else 1.0, density=True, label=n)
        if key in ("hit_energy", "radial"):
            ax.set_yscale("log")
        if key == "hit_energy":
            ax.set_xscale("log")
        ax.set_xlabel(LABELS[key])
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _values(obs: Observables, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    if key in SCALARS:
        return obs.scalars[key], None
    if key == "longitudinal":
        return obs.hit_layer, obs.hit_energy
    if key == "radial":
        return obs.hit_radius, obs.hit_energy
    return 1e3 * obs.hit_energy, None
