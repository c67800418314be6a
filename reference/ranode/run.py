"""The R-ANODE experiment: for each injected signal strength, a background flow on the sidebands,
then in the signal region R-ANODE with w fixed at its true value and with w learned, ANODE, and
an idealised anomaly detector (IAD); a supervised classifier once, as the ceiling. Each is scored
on the same test set (extra signal-region background and held-out signal) by the significance
improvement characteristic SIC = TPR / sqrt(FPR), its maximum taken where at least MIN_TEST_BACKGROUND
test background events pass (the authors: 20 % relative statistical error)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..files import DataError, json_text, output_folder
from .data import (Events, Experiment, Preprocessing, background_context, injection_for_significance,
                   make_experiment, read_dijets, signal_pools, sr_coordinate)
from .model import (MassDensity, Mixture, averaged_log_prob, background_flow, conditional_log_prob, fit,
                    signal_flow)

MIN_TEST_BACKGROUND = 25  # 1 / 0.2^2
METHODS = ("R-ANODE (fixed w)", "R-ANODE (learned w)", "ANODE", "IAD", "supervised")


@dataclass(frozen=True)
class RanodeConfig:
    significances: tuple[float, ...]  # S / sqrt(B) in the signal region of each injection
    background_transforms: int
    background_hidden: tuple[int, ...]
    background_epochs: int
    background_lr: float
    signal_transforms: int
    signal_hidden: tuple[int, ...]
    signal_bins: int
    signal_epochs: int
    signal_lr: float
    batch: int
    keep_epochs: int
    val_fraction: float
    runs: int                 # R-ANODE and ANODE trainings per injection (different splits)
    iad_models: int           # gradient-boosted classifiers averaged
    background_per_injection: bool  # refit the background flow on every injection's sidebands


# The authors' code: S/sqrt(B) of their eight injections (75-1000 signal events in 1M
# background); background MAF 8 x 64, Adam 1e-4, 10 best epochs averaged; signal RQS 2 x 32, 8
# bins, AdamW 3e-4, batch 256, 300 epochs; 20 splits per data set; IAD: 50 boosted trees.
PAPER = RanodeConfig(significances=(0.152, 0.325, 0.487, 0.650, 0.971, 1.076, 1.294, 2.166),
                     background_transforms=8, background_hidden=(64, 64), background_epochs=200, background_lr=1e-4,
                     signal_transforms=2, signal_hidden=(32, 32), signal_bins=8, signal_epochs=300, signal_lr=3e-4,
                     batch=256, keep_epochs=10, val_fraction=0.2, runs=20, iad_models=50,
                     background_per_injection=True)
# About 15 minutes on 2 cores: four stronger injections (the small sample's signal region holds
# ~14x fewer background events, so equal S/sqrt(B) means a larger w), the paper's flows but 100
# background epochs and lr 1e-3 for both (an epoch here is ~14x fewer steps), one split, one
# background flow for all injections (fitted on the sidebands of the largest injection: its
# signal share there is below 0.2 %).
SMALL = replace(PAPER, significances=(0.5, 1.0, 2.0, 4.0), background_epochs=100, background_lr=1e-3,
                signal_lr=1e-3, runs=1, iad_models=10, background_per_injection=False)
CONFIGS = {"paper": PAPER, "small": SMALL}


def sic_curve(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(TPR, FPR, SIC, background events passing) at every distinct threshold, from the highest
    score down (tied scores pass together)."""
    order = np.argsort(-scores, kind="stable")
    ranked, t = scores[order], truth[order].astype(bool)
    tp, fp = np.cumsum(t), np.cumsum(~t)
    if tp[-1] == 0 or fp[-1] == 0:
        raise DataError("the test set needs both signal and background events")
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    tp, fp = tp[last_of_tie], fp[last_of_tie]
    tpr, fpr = tp / tp[-1], fp / fp[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        sic = np.where(fpr > 0, tpr / np.sqrt(fpr), 0.0)
    return tpr, fpr, sic, fp


def max_sic(scores: np.ndarray, truth: np.ndarray) -> float:
    """The largest SIC where at least MIN_TEST_BACKGROUND test background events pass."""
    _, _, sic, passing = sic_curve(scores, truth)
    allowed = passing >= MIN_TEST_BACKGROUND
    if not allowed.any():
        raise DataError(f"the test set holds {passing[-1]} background events; the maximum SIC needs at least "
                        f"{MIN_TEST_BACKGROUND}")
    return float(sic[allowed].max())


def _split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(val_fraction * n)))
    return order[n_val:], order[:n_val]


def train_conditional(x: np.ndarray, context: np.ndarray, config: RanodeConfig, epochs: int, seed: int):
    """A background-architecture flow p(x | m) on these rows; returns (flow, Fit)."""
    torch.manual_seed(seed)
    flow = background_flow(config.background_transforms, config.background_hidden)
    train, val = _split(len(x), config.val_fraction, seed)
    xt, ct = torch.from_numpy(x), torch.from_numpy(context)
    tr, va = torch.from_numpy(train), torch.from_numpy(val)

    def loss_of(rows, training):
        idx = tr[rows] if training else va[rows]
        return -flow(ct[idx]).log_prob(xt[idx]).mean()

    result = fit(flow, loss_of, len(train), len(val), epochs=epochs, batch=config.batch, lr=config.background_lr,
                 keep=config.keep_epochs, seed=seed)
    return flow, result


def conditional_scores(flow, fitted, x: np.ndarray, context: np.ndarray) -> np.ndarray:
    xt, ct = torch.from_numpy(x), torch.from_numpy(context)
    return averaged_log_prob(flow, fitted.states, lambda f: conditional_log_prob(f, xt, ct))


def train_ranode(ux: np.ndarray, log_bg: np.ndarray, w: float | None, config: RanodeConfig, seed: int):
    """The signal flow with the mixture likelihood (w fixed, or learned when None); returns
    (mixture, Fit, w of the kept epochs)."""
    torch.manual_seed(seed)
    w_start = float(np.random.default_rng(seed).uniform(0.001, 0.01))
    mixture = Mixture(signal_flow(config.signal_transforms, config.signal_hidden, config.signal_bins), w, w_start)
    train, val = _split(len(ux), config.val_fraction, seed)
    uxt, lbt = torch.from_numpy(ux), torch.from_numpy(log_bg.astype(np.float32))
    tr, va = torch.from_numpy(train), torch.from_numpy(val)

    def loss_of(rows, training):
        idx = tr[rows] if training else va[rows]
        return -mixture.log_likelihood(uxt[idx], lbt[idx]).mean()

    result = fit(mixture, loss_of, len(train), len(val), epochs=config.signal_epochs, batch=config.batch,
                 lr=config.signal_lr, keep=config.keep_epochs, seed=seed, optimizer="adamw", clip=1.0)
    ws = [float(torch.sigmoid(s["theta"])) for s in result.states]
    return mixture, result, ws


def signal_log_prob(mixture: Mixture, fitted, ux: np.ndarray) -> np.ndarray:
    uxt = torch.from_numpy(ux)
    return averaged_log_prob(mixture, fitted.states, lambda m: m.flow().log_prob(uxt))


def boosted_scores(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, models: int, seed: int) -> np.ndarray:
    """The mean probability of `models` gradient-boosted tree classifiers (the authors' IAD:
    scikit-learn's HistGradientBoosting, 200 iterations, half the data for early stopping,
    balanced class weights)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    total = np.zeros(len(test_x))
    for k in range(models):
        clf = HistGradientBoostingClassifier(max_iter=200, validation_fraction=0.5, early_stopping=True,
                                             class_weight="balanced", random_state=seed + k)
        clf.fit(train_x, train_y)
        total += clf.predict_proba(test_x)[:, 1]
    return total / models


def run_injection(experiment: Experiment, prep: Preprocessing, background, config: RanodeConfig, seed: int,
                  log=print) -> dict:
    """Every weakly supervised method on one injection; returns its max SICs, w and timings."""
    sr, test = experiment.signal_region, experiment.test
    flow_bg, fit_bg = background
    sr_x, test_x = prep(sr.x), prep(test.x)
    sr_ux = np.column_stack([sr_coordinate(sr.mjj), sr_x]).astype(np.float32)
    test_ux = np.column_stack([sr_coordinate(test.mjj), test_x]).astype(np.float32)
    log_bg_sr = conditional_scores(flow_bg, fit_bg, sr_x, background_context(sr.mjj))
    log_bg_test = conditional_scores(flow_bg, fit_bg, test_x, background_context(test.mjj))
    mass = MassDensity(sr_coordinate(sr.mjj))
    log_bg_sr_joint = log_bg_sr + mass.log_prob(sr_ux[:, 0])
    log_bg_test_joint = log_bg_test + mass.log_prob(test_ux[:, 0])
    out = {"injected": experiment.injected, "signal_in_sr": experiment.signal_in_sr,
           "test": {"signal": int(test.truth.sum()), "background": int((test.truth == 0).sum())},
           "background_in_sr": len(sr) - experiment.signal_in_sr, "true_w": experiment.true_w,
           "s_over_sqrt_b": experiment.significance, "max_sic": {}, "seconds": {}, "learned_w": []}
    for name, w in (("R-ANODE (fixed w)", experiment.true_w), ("R-ANODE (learned w)", None)):
        start, sics = time.perf_counter(), []
        for run in range(config.runs):
            mixture, fitted, ws = train_ranode(sr_ux, log_bg_sr_joint, w, config, seed + 100 * run)
            score = signal_log_prob(mixture, fitted, test_ux) - log_bg_test_joint
            sics.append(max_sic(score, test.truth))
            if w is None:
                out["learned_w"].append(float(np.median(ws)))
        out["max_sic"][name] = sics
        out["seconds"][name] = time.perf_counter() - start
        log(f"  {name}: max SIC {np.median(sics):.2f}" + (f", learned w {np.median(out['learned_w']):.4f} (true "
                                                         f"{experiment.true_w:.4f})" if w is None else ""))
    start, sics = time.perf_counter(), []
    for run in range(config.runs):
        flow, fitted = train_conditional(sr_x, background_context(sr.mjj), config, config.signal_epochs,
                                         seed + 100 * run + 1)
        score = conditional_scores(flow, fitted, test_x, background_context(test.mjj)) - log_bg_test
        sics.append(max_sic(score, test.truth))
    out["max_sic"]["ANODE"], out["seconds"]["ANODE"] = sics, time.perf_counter() - start
    log(f"  ANODE: max SIC {np.median(sics):.2f}")
    start = time.perf_counter()
    iad_x = np.concatenate([sr_x, prep(experiment.iad_background.x)])
    iad_y = np.concatenate([np.ones(len(sr_x)), np.zeros(len(experiment.iad_background))])
    score = boosted_scores(iad_x, iad_y, test_x, config.iad_models, seed)
    out["max_sic"]["IAD"], out["seconds"]["IAD"] = [max_sic(score, test.truth)], time.perf_counter() - start
    log(f"  IAD: max SIC {out['max_sic']['IAD'][0]:.2f}")
    return out


def run_experiment(data: str | Path, out: str | Path, config: RanodeConfig = SMALL, seed: int = 0,
                   limit: int | None = None, log=print) -> dict:
    """Run every injection of the config on a dijet file (at most `limit` events of each kind);
    write results.json and sic.png to `out`."""
    events = read_dijets(data, limit)
    pool, test_signal = signal_pools(events, seed)
    injections = [injection_for_significance(events, pool, s) for s in config.significances]
    started = time.perf_counter()
    results = {"config": asdict(config), "data": str(data), "seed": seed, "injections": []}
    background, shared_prep = None, None
    for index, n_inject in enumerate(sorted(injections, reverse=True)):
        experiment, prep = make_experiment(events, pool, test_signal, n_inject, shared_prep)
        if not config.background_per_injection:
            shared_prep = prep  # the shared background flow's coordinates
        log(f"{n_inject} signal events injected: S/sqrt(B) = {experiment.significance:.2f} in the signal region "
            f"({experiment.signal_in_sr} signal, {len(experiment.signal_region) - experiment.signal_in_sr} background)")
        if background is None or config.background_per_injection:
            start = time.perf_counter()
            sb = experiment.sideband
            background = train_conditional(prep(sb.x), background_context(sb.mjj), config, config.background_epochs, seed)
            background_seconds = time.perf_counter() - start
            log(f"  background flow on {len(sb)} sideband events: {background_seconds:.0f} s")
            if index == 0:
                results["background"] = {"sideband_events": len(sb), "seconds": background_seconds,
                                         "best_epochs": background[1].best_epochs,
                                         "val_loss": background[1].val_loss}
                results["supervised"] = _supervised(events, pool, prep, experiment, config, seed, log)
        results["injections"].append(run_injection(experiment, prep, background, config, seed, log))
    results["injections"].sort(key=lambda r: r["injected"])
    results["seconds"] = time.perf_counter() - started
    with output_folder(out) as folder:
        (folder / "results.json").write_text(json_text(results))
        plot(results, folder / "sic.png")
    return results


def _supervised(events, pool: Events, prep: Preprocessing, experiment: Experiment, config: RanodeConfig, seed: int,
                log) -> float:
    """The ceiling: the same boosted trees trained on truth (the injection pool's signal-region
    signal against the IAD's background sample)."""
    signal = pool.select(pool.in_signal_region())
    signal = signal.select(prep.inside(signal.x))
    x = np.concatenate([prep(signal.x), prep(experiment.iad_background.x)])
    y = np.concatenate([np.ones(len(signal)), np.zeros(len(experiment.iad_background))])
    score = boosted_scores(x, y, prep(experiment.test.x), config.iad_models, seed)
    value = max_sic(score, experiment.test.truth)
    log(f"  supervised: max SIC {value:.2f}")
    return value


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["injections"]
    x = [r["s_over_sqrt_b"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in METHODS[:-1]:
        med = [np.median(r["max_sic"][name]) for r in rows]
        left.plot(x, med, "o-", label=name)
    left.axhline(results["supervised"], color="k", ls="--", label="supervised")
    left.set_xlabel("S / sqrt(B) in the signal region")
    left.set_ylabel("max SIC")
    left.legend(fontsize=8)
    right.plot(x, [r["true_w"] for r in rows], "k--", label="true w")
    right.plot(x, [np.median(r["learned_w"]) for r in rows], "o-", label="learned w")
    right.set_xlabel("S / sqrt(B) in the signal region")
    right.set_ylabel("signal fraction w")
    right.set_yscale("log")
    right.legend(fontsize=8)
    fig.suptitle("R-ANODE on l1forge dijets (small sample)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
