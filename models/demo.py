"""`l1forge demo`: the whole l1forge path on a small default, in minutes on 2 cores."""
from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for everything the demo writes."),
    n_per_class: int = typer.Option(1000, "--n-per-class", help="Generated jets per class."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate a small jet sample and summarise it (later steps: train, compile, report)."""
    from .cli import print_summary
    from .data.jets import generate_jets

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    jets = out / "jets.h5"
    console.rule("1. jets: Pythia 8 + FastJet")
    generate_jets(n_per_class, seed, jets)
    print_summary(jets)
    console.rule(f"demo done in {time.perf_counter() - start:.0f} s; outputs in {out}/")
