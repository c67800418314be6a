"""`l1forge data ...` commands (plugged into compiler.cli through the l1forge.commands entry point)."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

data_app = typer.Typer(no_args_is_help=True, help="Generate and inspect physics data sets.")
console = Console()


@data_app.command("jets")
def jets_command(
    out: Path = typer.Option(..., "--out", help="HDF5 file to write (public hls4ml LHC jet layout)."),
    n_per_class: int = typer.Option(1000, "--n-per-class", help="Jets of each of the 5 classes."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same arguments give the same bytes."),
    workers: int = typer.Option(0, "--workers", help="Processes (0: all cores)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Also write FILE_mass.png."),
) -> None:
    """Generate gluon, light-quark, W, Z and top jets with Pythia 8 + FastJet."""
    from .data.jets import generate_jets

    stats = generate_jets(n_per_class, seed, out, workers=workers or None)
    origin = "from cache " + stats["cache"] if stats["cached"] else "generated"
    console.print(f"wrote {out} ({5 * n_per_class} jets, {origin})")
    print_summary(out, plot)


@data_app.command("summary")
def summary_command(
    file: Path = typer.Argument(..., help="Jet file (generated or public)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Also write FILE_mass.png."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Per-class counts, constituent multiplicity and jet-mass peaks of a jet file."""
    print_summary(file, plot, as_json)


def print_summary(file: Path, plot: bool = True, as_json: bool = False) -> dict:
    from .data.summary import plot_jet_mass, summarize_jets

    summary = summarize_jets(file)
    if plot:
        summary["mass_plot"] = str(plot_jet_mass(file, Path(file).with_name(Path(file).stem + "_mass.png")))
    if as_json:
        print(json.dumps(summary, indent=2))
        return summary
    table = Table(title=f"{file}: {summary['jets']} jets")
    for col in ("class", "jets", "mean constituents", "mass peak [GeV]", "median mass [GeV]", "mean pT [GeV]"):
        table.add_column(col, justify="right")
    for cls, s in summary["classes"].items():
        table.add_row(cls, str(s["jets"]), f"{s['mean_constituents']:.1f}", f"{s['mass_peak']:.0f}",
                      f"{s['mass_median']:.1f}", f"{s['pt_mean']:.0f}")
    console.print(table)
    if plot:
        console.print(f"jet-mass plot: {summary['mass_plot']}")
    return summary
