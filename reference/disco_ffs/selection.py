"""The DisCo-FFS loop (arXiv 2212.00046, as the authors' code runs it): train the classifier on the
features chosen so far; take the training and validation jets whose output lies in the confusion
window (0.3, 0.7); in blocks of 2,048 of them (in order; a last partial block dropped), score every
remaining candidate c by the affinely invariant distance correlation of (chosen features, c) with
the truth label, averaged over the blocks; add the best; repeat."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classifier import metrics, train_classifier
from .distance_correlation import CandidateScorer


@dataclass(frozen=True)
class SelectionSettings:
    n_select: int                    # features added to the initial ones
    window: tuple[float, float]      # the confusion window on the classifier output
    block: int                       # events per distance-correlation block
    hidden: tuple[int, ...]
    first_epochs: int                # the classifier on the initial features
    epochs: int                      # the classifiers after
    batch_size: int
    lr: float
    signal_efficiency: float         # where the rejection is read (0.3: R30, 0.5: R50)


def window_blocks(output: np.ndarray, window: tuple[float, float], block: int) -> list[np.ndarray]:
    """Indices (into `output`) of the events in the window, in order, cut into full blocks; one
    shorter block when fewer than `block` fall in the window (a small sample; the authors' code
    would score nothing)."""
    inside = np.flatnonzero((output > window[0]) & (output < window[1]))
    if len(inside) < block:
        return [inside] if len(inside) else []
    return [inside[k:k + block] for k in range(0, len(inside) - block + 1, block)]


def select_features(values: np.ndarray, names: list[str], n_initial: int, y: np.ndarray, split: dict,
                    settings: SelectionSettings, seed: int = 0, progress=lambda _: None) -> list[dict]:
    """Run the loop; one record per classifier trained (the initial features, then after each
    added feature): the chosen columns, the test metrics, the window and the winner's score."""
    chosen = list(range(n_initial))
    fit_rows = np.concatenate([split["train"], split["val"]])
    records = []
    for step in range(settings.n_select + 1):
        model = train_classifier(values[:, chosen], y, split["train"], split["val"], settings.hidden,
                                 settings.first_epochs if step == 0 else settings.epochs,
                                 settings.batch_size, settings.lr, seed)
        test = metrics(y[split["test"]], model.predict(values[split["test"], :][:, chosen]), settings.signal_efficiency)
        record = {"features": [names[k] for k in chosen], "columns": list(chosen), "test": test,
                  "best_epoch": model.best_epoch, "val_loss": model.val_loss}
        records.append(record)
        progress(f"{len(chosen)} features: test AUC {test['auc']:.4f}, R{settings.signal_efficiency * 100:.0f} "
                 f"{test['rejection']:.1f}")
        if step == settings.n_select:
            break
        output = model.predict(values[fit_rows][:, chosen])
        blocks = window_blocks(output, settings.window, settings.block)
        if not blocks:
            record["stopped"] = "no event in the confusion window"
            break
        candidates = np.setdiff1d(np.arange(n_initial, values.shape[1]), chosen)
        score = np.zeros(len(candidates))
        for rows in blocks:
            events = fit_rows[rows]
            scorer = CandidateScorer(values[events][:, chosen], y[events])
            score += scorer.scores(values[events][:, candidates]) / len(blocks)
        best = int(np.argmax(score))
        chosen.append(int(candidates[best]))
        runner_up = np.sort(score)[-2] if len(score) > 1 else float("nan")
        record.update(window_events=int(sum(len(b) for b in blocks)), blocks=len(blocks),
                      added=names[candidates[best]], score=float(score[best]), runner_up_score=float(runner_up))
        progress(f"  window {record['window_events']} events: added {record['added']} (DisCo {score[best]:.4f})")
    return records
