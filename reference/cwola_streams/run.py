"""The experiment over many mock streams: per mock patch, CWoLa between the mu_lambda signal
region and its sidebands; the top-N stars by score among the signal-region stars that pass the
authors' fiducial cuts (G < 20.2, 0.5 <= BP-RP <= 1, |mu_phi*| > 2 or |mu_lambda| > 2 mas/yr) are the
selection; purity = stream stars among them, completeness = the share of the signal region's
stream stars (after the cuts) they hold. The paper's figure of merit is the purity of the top 250
(their GD-1 result: 56 % purity, 51 % completeness over 21 patches, pooled); beside it the purity
of the signal region itself (no classifier), the floor."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..files import json_text, output_folder
from .cwola import COL, FEATURES, ClassifierConfig, kfold_scores, regions
from .mock import PatchSpec, mock_patch

PAPER_GD1 = {"purity": 0.56, "completeness": 0.51, "patches": 21, "top_n": 250}


@dataclass(frozen=True)
class StreamsConfig:
    mocks: int
    patch: PatchSpec
    classifier: ClassifierConfig
    sr_factor: float
    sb_factor: float
    top_n: int


# The authors' code: 3 x 256 ReLU, dropout 0.2, Adam (Keras' 1e-3), batch 10,000, up to 100
# epochs with patience 20, 5 folds; SR = median +- 1 sigma, sidebands to 3 sigma; top 250; 100
# mock streams. A real 15-degree Gaia DR2 patch at |b| ~ 50 deg holds a few million stars to G =
# 20.2; the mock's counts are ours.
PAPER = StreamsConfig(mocks=100, patch=PatchSpec(n_background=2_000_000, n_stream=3000),
                      classifier=ClassifierConfig(hidden=256, layers=3, dropout=0.2, lr=1e-3, batch=10_000, epochs=100,
                                                  patience=20, folds=5),
                      sr_factor=1.0, sb_factor=3.0, top_n=250)
# Minutes on 2 cores: 8 mocks of 300k smooth stars, narrower networks, 3 folds, top 100.
SMALL = replace(PAPER, mocks=8, patch=PatchSpec(n_background=300_000, n_stream=1500),
                classifier=replace(PAPER.classifier, hidden=64, batch=2048, epochs=40, patience=8, folds=3), top_n=100)
CONFIGS = {"paper": PAPER, "small": SMALL}


def fiducial(table: np.ndarray) -> np.ndarray:
    """The authors' cuts applied before selecting."""
    colour, g = table[:, COL["colour"]], table[:, COL["g"]]
    moving = (np.abs(table[:, COL["mu_phi_star"]]) > 2) | (np.abs(table[:, COL["mu_lambda"]]) > 2)
    return (g < 20.2) & (colour >= 0.5) & (colour <= 1.0) & moving


def select(scores: np.ndarray, truth: np.ndarray, top_n: int) -> dict:
    """Purity and completeness of the top_n scores (ties broken by order)."""
    top = np.argsort(-scores, kind="stable")[:top_n]
    found = int(truth[top].sum())
    total = int(truth.sum())
    return {"selected": len(top), "stream_selected": found, "stream_total": total,
            "purity": found / max(len(top), 1), "completeness": found / total if total else float("nan")}


def run_mock(seed: int, config: StreamsConfig) -> dict:
    """One mock patch through CWoLa; returns its selection figures."""
    start = time.perf_counter()
    table, drawn = mock_patch(seed, config.patch)
    sr, sb = regions(table, config.sr_factor, config.sb_factor)
    used = sr | sb
    x, y = table[used][:, [COL[f] for f in FEATURES]], sr[used].astype(np.int64)
    scores = kfold_scores(x, y, config.classifier, seed)
    in_sr = table[used][y == 1]
    keep = fiducial(in_sr)
    truth = in_sr[keep, COL["stream"]].astype(np.int64)
    chosen = select(scores[y == 1][keep], truth, config.top_n)
    return {"seed": seed, **drawn, "stars": len(table), "stream_stars": int(table[:, COL["stream"]].sum()),
            "signal_region": int(sr.sum()), "sidebands": int(sb.sum()),
            "signal_region_after_cuts": len(truth),
            "signal_region_purity": float(truth.mean()) if len(truth) else float("nan"),
            **chosen, "seconds": time.perf_counter() - start}


def run_experiment(out: str | Path, config: StreamsConfig = SMALL, seed: int = 0, log=print) -> dict:
    """Every mock of the config; writes results.json and purity.png to `out`."""
    mocks = []
    for k in range(config.mocks):
        mocks.append(run_mock(seed * 1000 + k, config))
        m = mocks[-1]
        log(f"mock {k + 1}/{config.mocks}: {m['stream_stars']} stream stars among {m['stars']}; top {m['selected']}: "
            f"purity {m['purity']:.2f}, completeness {m['completeness']:.2f} (signal region alone: purity "
            f"{m['signal_region_purity']:.3f})")
    found = sum(m["stream_selected"] for m in mocks)
    results = {"config": asdict(config), "seed": seed, "mocks": mocks,
               "pooled": {"purity": found / max(sum(m["selected"] for m in mocks), 1),
                          "completeness": found / max(sum(m["stream_total"] for m in mocks), 1),
                          "signal_region_purity": sum(m["stream_total"] for m in mocks)
                          / max(sum(m["signal_region_after_cuts"] for m in mocks), 1)},
               "median": {k: float(np.median([m[k] for m in mocks])) for k in ("purity", "completeness",
                                                                               "signal_region_purity")},
               "paper_gd1": PAPER_GD1}
    with output_folder(out) as folder:
        (folder / "results.json").write_text(json_text(results))
        plot(results, folder / "purity.png")
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mocks = results["mocks"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.scatter([m["signal_region_purity"] for m in mocks], [m["purity"] for m in mocks], label="mock streams")
    ax.axhline(PAPER_GD1["purity"], color="k", ls="--", label="paper, GD-1 in Gaia (pooled)")
    ax.set_xscale("log")
    ax.set_xlabel("stream purity of the signal region (no classifier)")
    ax.set_ylabel(f"purity of the top {results['config']['top_n']}")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
