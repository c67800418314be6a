"""The `l1forge` command line. Command groups of upper layers (models: data, train, demo) plug in
through the `l1forge.commands` entry-point group, so this module imports nothing above `compiler`.

Errors are one line on stderr with a non-zero exit; `--debug` shows the traceback.
"""
from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer

from .errors import L1ForgeError

app = typer.Typer(name="l1forge", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Compile quantized physics networks into bit-exact FPGA firmware.")


@app.command("compile")
def compile_command(
    model: Path = typer.Argument(..., help="QONNX/ONNX model file (e.g. from `l1forge train`)."),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically)."),
    backend: str = typer.Option("hls4ml", "--backend", help="Firmware backend: hls4ml (HLS C++) or rtl (da4ml "
                                                              "Verilog, Verilator latency, yosys resources)."),
    part: str = typer.Option("xcvu13p-flga2577-2-e", "--part", help="FPGA part."),
    clock_ns: float = typer.Option(5.0, "--clock-ns", help="Target clock period in ns."),
    reuse_factor: int = typer.Option(1, "--reuse-factor", help="hls4ml reuse factor."),
    hls_tool: str = typer.Option("Vitis", "--hls-tool", help="HLS flavour of the project: Vitis or Vivado."),
    data: Path = typer.Option(None, "--data", help="Inputs for verification: .npz with x (and y labels)."),
    n_data: int = typer.Option(0, "-n", help="Use at most this many rows of --data (0: all)."),
    n_random: int = typer.Option(2000, "--n-random", help="Random inputs on the input grid (extremes included)."),
    skip_verify: bool = typer.Option(False, "--skip-verify", help="Do not co-simulate (report says unverified)."),
    skip_synth: bool = typer.Option(False, "--skip-synth", help="rtl: no yosys synthesis (da4ml's LUT estimate only)."),
) -> None:
    """Compile a quantized model into firmware and prove it bit-exact by co-simulation."""

    from .pipeline import compile_model

    x = y = None
    if data is not None:
        x, y = _load_inputs(data)
        if n_data:
            x, y = x[:n_data], (None if y is None else y[:n_data])
    report = compile_model(model, out, backend=backend, part=part, clock_ns=clock_ns, reuse_factor=reuse_factor,
                           hls_tool=hls_tool, data=x, labels=y, n_random=n_random, verify_firmware=not skip_verify,
                           synth=not skip_synth, log=lambda msg: typer.echo(f"  {msg}"))
    v = report["verification"]
    typer.echo(f"compiled {model} -> {out}/ ({backend}, {part}, {clock_ns} ns): {v['status']}"
               + (f" on {v['samples']} inputs" if "samples" in v else "")
               + (f", accuracy {report['accuracy']['accuracy']:.4f}" if "accuracy" in report else ""))
    lat, res = report.get("latency"), report.get("resources")
    if lat:
        typer.echo(f"latency {lat['cycles']} cycles = {lat['ns']} ns at {clock_ns} ns, II {lat['ii']} ({lat['source']})")
    if res and "LUT" in res:
        typer.echo(f"resources {res['LUT']} LUT, {res['FF']} FF, {res['DSP']} DSP ({res['source']})")


def _load_inputs(path: Path):
    import numpy as np

    if not path.is_file():
        raise L1ForgeError(f"{path}: no such data file")
    try:
        with np.load(path) as f:
            if "x" not in f:
                raise L1ForgeError(f"{path}: missing array 'x' (expected an .npz with x and optional y)")
            return f["x"], (f["y"] if "y" in f else None)
    except (OSError, ValueError) as exc:
        raise L1ForgeError(f"{path}: not an .npz file ({exc})") from None


def _register_plugins() -> None:
    for ep in sorted(entry_points(group="l1forge.commands"), key=lambda e: e.name):
        obj = ep.load()
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        else:
            app.command(name=ep.name)(obj)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user error becomes one line on stderr and exit code 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    _register_plugins()
    try:
        app(args=argv, prog_name="l1forge")  # standalone: usage errors print and exit by themselves
    except L1ForgeError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
