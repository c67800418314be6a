"""Quantization-aware training of the taggers next to their float twins, QONNX export, metrics."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from l1forge.compiler.errors import L1ForgeError

from .data.loader import JetData
from .metrics import classification_metrics, roc_curve
from .taggers import TaggerConfig, build_tagger, float_twin


@dataclass
class TrainSettings:
    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3
    seed: int = 0
    beta_warmup: int = 0  # epochs over which the resource term's weight ramps up linearly from 0


def fit(model: nn.Module, data: JetData, s: TrainSettings, label: str, progress: bool = True,
        beta: float = 0.0) -> list[dict]:
    """Adam + cross-entropy (+ beta * the resource term of learnable-bit models); keeps the weights
    of the best validation accuracy, or with beta > 0 of the best validation objective (cross-
    entropy + beta * resource term: the most accurate epoch is an early, large one)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    torch.manual_seed(s.seed)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, s.epochs))
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y).long()
    gen = torch.Generator().manual_seed(s.seed)
    history, best, best_state = [], -float("inf"), None
    cols = [TextColumn(f"training {label}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[msg]}"),
            TimeElapsedColumn()]
    with Progress(*cols, disable=not progress) as bar:
        task = bar.add_task(label, total=s.epochs, msg="")
        for epoch in range(s.epochs):
            model.train()
            perm = torch.randperm(len(y), generator=gen)
            total = 0.0
            beta_now = beta * min(1.0, (epoch + 1) / s.beta_warmup) if s.beta_warmup else beta
            for lo in range(0, len(y), s.batch_size):
                idx = perm[lo:lo + s.batch_size]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                if beta:
                    loss = loss + beta_now * model.resource_cost()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            sched.step()
            logits = predict(model, data.val.x)
            val_acc = float((logits.argmax(1) == data.val.y).mean())
            entry = {"epoch": epoch + 1, "loss": total / len(y), "val_accuracy": val_acc}
            score = val_acc
            if hasattr(model, "resource_cost"):
                with torch.no_grad():
                    entry["resource_cost"] = float(model.resource_cost())
                entry["beta"] = beta_now
                val_ce = float(nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(data.val.y).long()))
                entry["val_objective"] = val_ce + beta * entry["resource_cost"]
                score = -entry["val_objective"] if beta else val_acc
            history.append(entry)
            if score > best:
                best, best_state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
            bar.update(task, advance=1, msg=f"loss {total / len(y):.3f} val acc {val_acc:.3f}")
    model.load_state_dict(best_state)
    return history


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, batch: int = 8192) -> np.ndarray:
    model.eval()
    return np.concatenate([model(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)])


def export_qonnx_model(model: nn.Module, cfg: TaggerConfig, path: Path, dynamo: bool = True) -> Path:
    """QONNX file of a tagger through the Brevitas frontend (dynamo or TorchScript exporter), or
    l1forge's own writer for learnable-bit models."""
    from l1forge.compiler.api import export_brevitas

    if cfg.hgq:
        from .taggers.hgq import export_hgq

        return export_hgq(model, path)

    export_brevitas(model, torch.zeros(1, cfg.n_constituents, cfg.n_features), path, dynamo=dynamo)
    return Path(path)


def train_and_export(cfg: TaggerConfig, data: JetData, settings: TrainSettings, out: str | Path,
                     progress: bool = True, log=print, with_float: bool = True) -> dict:
    """Train the QAT tagger and (with_float) its float twin; write to `out` the QONNX export
    (model.onnx), the checkpoints, metrics.json, the ROC plot and the test inputs (test_inputs.npz).
    Returns the metrics."""
    out = Path(out)
    if "OMP_NUM_THREADS" not in os.environ:  # a thread count the user set is kept (jobs side by side)
        torch.set_num_threads(os.cpu_count() or 1)
    if data.train.x.shape[1:] != (cfg.n_constituents, cfg.n_features):
        raise L1ForgeError(f"data has shape {data.train.x.shape[1:]} per jet, model expects "
                           f"({cfg.n_constituents}, {cfg.n_features})")
    out.mkdir(parents=True, exist_ok=True)
    results = {"config": cfg.to_dict(), "settings": settings.__dict__,
               "splits": {k: int(len(getattr(data, k).y)) for k in ("train", "val", "test")}}
    models = {}
    twins = (("quantized", build_tagger), ("float", float_twin)) if with_float else (("quantized", build_tagger),)
    for label, build in twins:
        torch.manual_seed(settings.seed)  # the same initial draw for every run of a seed
        model = build(cfg)
        t = time.perf_counter()
        history = fit(model, data, settings, f"{label} {cfg.model}", progress, cfg.beta if label == "quantized" else 0.0)
        logits = predict(model, data.test.x)
        results[label] = {**classification_metrics(logits, data.test.y, data.classes),
                          "train_seconds": round(time.perf_counter() - t, 1), "history": history}
        if hasattr(model, "resource_cost"):
            from .taggers.hgq import bit_summary

            results[label]["bits"] = bit_summary(model)
        models[label] = (model, logits)
        log(f"{label:9s} test accuracy {results[label]['accuracy']:.4f}")
    qmodel = models["quantized"][0]
    torch.save({"config": cfg.to_dict(), "state_dict": qmodel.state_dict(),
                "standardizer": {"mean": data.standardizer.mean.tolist(), "std": data.standardizer.std.tolist()}},
               out / "checkpoint.pt")
    if with_float:
        torch.save({"config": cfg.to_dict(), "state_dict": models["float"][0].state_dict()}, out / "float_checkpoint.pt")
    export_qonnx_model(qmodel, cfg, out / "model.onnx")
    np.savez_compressed(out / "test_inputs.npz", x=data.test.x, y=data.test.y)
    results["brevitas_vs_qonnx"] = compare_with_qonnx(out / "model.onnx", models["quantized"][1], data.test.x)
    plot_roc(models, data, out / "roc.png")
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def compare_with_qonnx(onnx_path: Path, brevitas_logits: np.ndarray, x: np.ndarray) -> dict:
    """Brevitas' own forward pass against the exported graph's exact integer meaning."""
    from l1forge.compiler.api import canonicalize, emulate, load_model

    exact = emulate(canonicalize(load_model(onnx_path)), x).reshape(brevitas_logits.shape)
    differ = np.any(exact != brevitas_logits.astype(np.float64), axis=1)
    return {"samples": int(len(x)), "rows_differing": int(differ.sum()),
            "max_abs_difference": float(np.abs(exact - brevitas_logits).max())}


def plot_roc(models: dict, data: JetData, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import softmax

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for label, style in (("quantized", "-"), ("float", "--")):
        if label not in models:
            continue
        probs = softmax(models[label][1].astype(np.float64))
        for i, cls in enumerate(data.classes):
            fpr, tpr = roc_curve(probs[:, i], data.test.y == i)
            ax.plot(tpr, np.maximum(fpr, 1e-5), style, color=colors[i], lw=1.4,
                    label=f"{cls}" if label == "quantized" else None)
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency (TPR)")
    ax.set_ylabel("background efficiency (FPR)")
    ax.set_title("ROC per class: quantized (solid) vs float (dashed)")
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
