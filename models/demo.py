"""`l1forge demo`: the whole l1forge path on a small default, in minutes on 2 cores."""
from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for everything the demo writes."),
    n_per_class: int = typer.Option(2000, "--n-per-class", help="Generated jets per class."),
    epochs: int = typer.Option(15, "--epochs", help="Training epochs (quantized and float)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate jets, train a quantized deep set, compile it to hls4ml firmware, prove it bit-exact."""
    import numpy as np

    from l1forge.compiler.api import compile_model, summary_lines

    from .cli import print_summary
    from .data.jets import generate_jets
    from .data.loader import load_jets
    from .taggers import TaggerConfig
    from .train import TrainSettings, train_and_export

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    jets = out / "jets.h5"
    console.rule("1. jets: Pythia 8 + FastJet")
    generate_jets(n_per_class, seed, jets)
    print_summary(jets)

    console.rule("2. train: Brevitas QAT deep set (N=8, 3 features, 8 bits) and its float twin")
    cfg = TaggerConfig(model="deepsets", n_constituents=8, n_features=3, pool="mean")
    data = load_jets(jets, n_constituents=8, features="3", seed=seed)
    res = train_and_export(cfg, data, TrainSettings(epochs=epochs, seed=seed), out / "deepset", log=console.print)
    console.print(f"Brevitas vs exported QONNX on the test split: {res['brevitas_vs_qonnx']['rows_differing']} "
                  f"of {res['brevitas_vs_qonnx']['samples']} rows differ; ROC plot {out}/deepset/roc.png")

    console.rule("3. compile: QONNX -> hls4ml (Vitis, io_parallel) with bit-exact co-simulation")
    with np.load(out / "deepset" / "test_inputs.npz") as f:
        x, y = f["x"], f["y"]
    report = compile_model(out / "deepset" / "model.onnx", out / "deepset_hls4ml", data=x, labels=y,
                           n_random=max(2000, 10_000 - len(x)), log=lambda m: console.print(f"  {m}"))
    v = report["verification"]
    console.rule("summary")
    console.print(f"quantized deep set: test accuracy {res['quantized']['accuracy']:.4f} "
                  f"(float twin {res['float']['accuracy']:.4f})")
    console.print(f"firmware: {v['status']} on {v['samples']} inputs ({v['data_samples']} jets, "
                  f"{v['random_samples']} random grid inputs); firmware accuracy {report['accuracy']['accuracy']:.4f}")
    for line in summary_lines(report)[1:]:  # latency, resources, utilization, verdict
        console.print(line)
    console.print(f"project: {out}/deepset_hls4ml/hls4ml_prj, report: {out}/deepset_hls4ml/report.md and "
                  "report.html")
    console.rule(f"demo done in {time.perf_counter() - start:.0f} s; outputs in {out}/")
