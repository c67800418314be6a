"""The `l1forge` command line. Command groups of upper layers (models: data, train, demo) plug in
through the `l1forge.commands` entry-point group, so this module imports nothing above `compiler`.

Errors are one line on stderr with a non-zero exit; `--debug` shows the traceback.
"""
from __future__ import annotations

import signal
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer

from .errors import Interrupted, L1ForgeError

app = typer.Typer(name="l1forge", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Compile quantized physics networks into bit-exact FPGA firmware.")


@app.command("compile")
def compile_command(
    model: Path = typer.Argument(..., help="QONNX/ONNX model file (e.g. from `l1forge train`) or a (Q)Keras .h5."),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically)."),
    backend: str = typer.Option("hls4ml", "--backend", help="Firmware backend: hls4ml (HLS C++), rtl (da4ml "
                                                              "Verilog, Verilator latency, yosys resources) or finn "
                                                              "(finn-plus dataflow, FINN's estimates)."),
    part: str = typer.Option("xcvu13p-flga2577-2-e", "--part", help="FPGA part."),
    clock_ns: float = typer.Option(5.0, "--clock-ns", help="Target clock period in ns."),
    reuse_factor: int = typer.Option(1, "--reuse-factor", help="hls4ml reuse factor."),
    hls_tool: str = typer.Option("Vitis", "--hls-tool", help="HLS flavour of the project: Vitis or Vivado."),
    data: Path = typer.Option(None, "--data", help="Inputs for verification: .npz with x (and y labels)."),
    n_data: int = typer.Option(0, "-n", help="Use at most this many rows of --data (0: all)."),
    n_random: int = typer.Option(2000, "--n-random", help="Random inputs on the input grid (extremes included)."),
    skip_verify: bool = typer.Option(False, "--skip-verify", help="Do not co-simulate (report says unverified)."),
    skip_synth: bool = typer.Option(False, "--skip-synth", help="rtl: no yosys synthesis (da4ml's LUT estimate only)."),
    synth: bool = typer.Option(False, "--synth", help="hls4ml: run Vitis/Vivado HLS and Vivado synthesis; finn: "
                               "Vitis HLS, FINN's stitched IP and Vivado's out-of-context place and route (the tools "
                               "must be on the PATH); report their figures instead of the estimates."),
    input_type: str = typer.Option("ap_fixed<12,4,AP_RND,AP_SAT>", "--input-type",
                                   help="Keras models: the input quantizer (Keras has none)."),
    final_layer: str = typer.Option("quantize", "--final-layer", help="Keras models: a float last Dense is "
                                    "'quantize'd to --final-type or refused ('keep-float')."),
    final_type: str = typer.Option("ap_fixed<16,6>", "--final-type", help="Keras models: type of a float last "
                                   "Dense's weights and bias (hls4ml's default)."),
    latency_budget_ns: float = typer.Option(100.0, "--latency-budget-ns", help="Latency budget for the verdict."),
    synth_by_stage: bool = typer.Option(False, "--synth-by-stage", help="rtl: yosys per pipeline stage (less memory, "
                                        "parallel; no cross-stage optimization, so counts come out higher)."),
    tool_time_limit: float = typer.Option(None, "--tool-time-limit", help="Seconds each yosys / Verilator run may "
                                          "take (default 4 hours)."),
    finn_target_cycles: int = typer.Option(None, "--finn-target-cycles", help="finn: cycles per frame each layer "
                                           "is folded for (default: the latency budget / clock / 4)."),
    memory_limit_gb: float = typer.Option(None, "--memory-limit-gb", help="rtl: memory yosys may plan for (default: "
                                          "what the machine has available); a flat run estimated above it is "
                                          "synthesized by stage, or refused."),
) -> None:
    """Compile a quantized model into firmware and prove it bit-exact by co-simulation."""

    from .backends.base import CompileOptions
    from .pipeline import compile_model

    x = y = None
    if data is not None:
        x, y = _load_inputs(data)
        if n_data:
            x, y = x[:n_data], (None if y is None else y[:n_data])
    options = CompileOptions(backend=backend, part=part, clock_ns=clock_ns, reuse_factor=reuse_factor,
                             hls_tool=hls_tool, n_random=n_random, verify_firmware=not skip_verify, synth=not skip_synth,
                             synth_by_stage=synth_by_stage, vendor_synth=synth, latency_budget_ns=latency_budget_ns,
                             tool_time_limit_s=tool_time_limit, memory_limit_gb=memory_limit_gb,
                             finn_target_cycles=finn_target_cycles,
                             keras={"input_type": input_type, "final_layer": final_layer, "final_type": final_type})
    report = compile_model(model, out, options, data=x, labels=y, log=lambda msg: typer.echo(f"  {msg}"))
    from l1forge.hw.report import summary_lines

    typer.echo(f"compiled {model} -> {out}/ ({backend}, {report['part']['name']}, {clock_ns} ns)")
    for line in summary_lines(report):
        typer.echo(f"  {line}")


@app.command("cosim")
def cosim_command(
    folder: Path = typer.Argument(..., metavar="DIR", help="A folder written by `l1forge compile`."),
    data: Path = typer.Option(..., "--data", help="Inputs: .npz with x (float, the model's input shape per row)."),
    n_data: int = typer.Option(0, "-n", help="Use at most this many rows of --data (0: all)."),
    out: Path = typer.Option(None, "--out", help="Write the firmware's outputs here (.npz with x and y)."),
) -> None:
    """Run an existing build's firmware on your inputs, prove it bit-exact with the model, and
    write its outputs."""
    import numpy as np

    from .pipeline import cosim_build

    x = _load_inputs(data)[0]
    if n_data:
        x = x[:n_data]
    if out is not None and out.suffix != ".npz":
        raise L1ForgeError(f"--out {out}: the outputs are written as .npz (name it e.g. outputs.npz)")
    if out is not None and not out.parent.is_dir():
        raise L1ForgeError(f"--out {out}: folder {out.parent} does not exist")
    y, summary = cosim_build(folder, x, log=lambda msg: typer.echo(f"  {msg}"))
    typer.echo(f"{folder}: {summary['backend']} firmware bit-exact with the model on {summary['samples']} inputs")
    if out is not None:
        import io

        from .atomic import write_atomic

        buffer = io.BytesIO()
        np.savez(buffer, x=np.asarray(x), y=y)
        write_atomic(out, buffer.getvalue())
        typer.echo(f"written {out} (x: inputs, y: firmware outputs {list(y.shape)})")


@app.command("noise")
def noise_command(
    model: Path = typer.Argument(..., help="QONNX model whose input row holds Gaussian noise columns (e.g. the "
                                           "caloclouds-student's model.onnx: columns 0-3)."),
    columns: str = typer.Option(..., "--columns", help="The noise columns of the input row: '0-3' or '0,1,2,3'."),
    out: Path = typer.Option(..., "--out", help="The model with an on-chip noise source (.onnx)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the LFSRs (one 64-bit seed per lane, derived from it)."),
    address_bits: int = typer.Option(10, "--address-bits", help="Uniform bits per draw: the Gaussian table has "
                                     "2**bits equiprobable cells (tails cut at the outermost cell's centre)."),
) -> None:
    """Draw a model's noise inputs on chip: attach an LFSR Gaussian source (compile it with --backend rtl or hls4ml)."""
    from .atomic import write_atomic
    from .ir import load_model
    from .ir.noise import attach_noise_source, node_spec

    if out.suffix != ".onnx":
        raise L1ForgeError(f"--out {out}: the model is written as .onnx")
    noisy = attach_noise_source(load_model(model), _column_list(columns), seed=seed, address_bits=address_bits)
    write_atomic(out, noisy.model.SerializeToString())
    spec = node_spec(next(n for n in noisy.graph.node if n.op_type == "NoiseSource"))
    q, n_cond = spec.quality(), noisy.get_tensor_shape(noisy.graph.input[0].name)[1]
    typer.echo(f"written {out}: its input is now the {n_cond} condition columns; columns {list(spec.columns)} are "
               f"drawn on chip from {q['entries']:,}-cell Gaussian tables (std {q['std']:.4f}, tails cut at "
               f"{q['tail_cut_sigma']:.3g} sigma, Kolmogorov-Smirnov distance {q['ks_distance']:.4f})")


def _column_list(text: str) -> list[int]:
    """'0-3' or '0,1,5' -> column indices; a one-line error otherwise."""
    try:
        out = []
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        return out
    except ValueError:
        raise L1ForgeError(f"--columns {text!r}: give column indices like '0-3' or '0,1,2,3'") from None


@app.command("keras-check")
def keras_check_command(
    model: Path = typer.Argument(..., help="QKeras / Keras model (.h5)."),
    hls4ml_config: Path = typer.Option(None, "--hls4ml-config", help="hls4ml_config.yml for hls4ml's path (its "
                                       "HLSConfig section); without it hls4ml's path is skipped."),
    data: Path = typer.Option(None, "--data", help="Inputs: .npz with x (quantized to --input-type first)."),
    n_random: int = typer.Option(10000, "--n-random", help="Random inputs on the input grid (extremes included)."),
    skip_hls4ml: bool = typer.Option(False, "--skip-hls4ml", help="Compare only QKeras and l1forge."),
    input_type: str = typer.Option("ap_fixed<12,4,AP_RND,AP_SAT>", "--input-type", help="Input quantizer."),
    final_type: str = typer.Option("ap_fixed<16,6>", "--final-type", help="Type of a float last Dense."),
    out: Path = typer.Option(None, "--out", help="Write the comparison as JSON here."),
) -> None:
    r"""Compare QKeras' own forward pass, hls4ml's Keras converter and l1forge's frontend, layer by layer.

    Needs the keras extra: pip install 'l1forge\[keras]'.

    Exits 1 if l1forge's graph differs from QKeras at any layer before a final layer it quantized."""
    import json

    from .tools.keras_check import compare_keras_paths, paper_hls_config, summary_table

    x = _load_inputs(data)[0] if data is not None else None
    hls = paper_hls_config(hls4ml_config) if hls4ml_config is not None else None
    result = compare_keras_paths(model, n_random=n_random, data=x, hls_config=hls, skip_hls4ml=skip_hls4ml,
                                 keras_options={"input_type": input_type, "final_type": final_type},
                                 log=lambda msg: typer.echo(f"  {msg}"))
    for line in summary_table(result):
        typer.echo(line)
    if out is not None:
        from .atomic import write_atomic

        write_atomic(out, json.dumps(result, indent=2) + "\n")
        typer.echo(f"written {out}")
    if not result["l1forge_equals_qkeras"]:
        raise L1ForgeError(f"l1forge's graph differs from QKeras at layer '{result['first_divergent_layer']}': "
                           "an l1forge bug, please report it with the model")
    typer.echo("l1forge's graph equals QKeras' forward pass at every layer"
               + (f" before the quantized final layer '{result['quantized_final_layer']}'"
                  if result["quantized_final_layer"] else ""))


@app.command("report")
def report_command(
    dirs: list[Path] = typer.Argument(..., metavar="DIR", help="Compile folder(s) holding report.json."),
    out: Path = typer.Option(Path("comparison"), "--out", help="Several DIRs: folder for the comparison."),
) -> None:
    """One DIR: re-render report.md and report.html from report.json. Several: compare them (table, Pareto plot)."""
    from l1forge.hw.report import render_markdown, summary_lines
    from l1forge.hw.report.compare import compare_builds, load_report

    from .atomic import write_atomic
    from l1forge.hw.report.html import render_html

    if len(dirs) == 1:
        report = load_report(dirs[0])
        md, html = render_markdown(report), render_html(report)
        write_atomic(dirs[0] / "report.md", md)
        write_atomic(dirs[0] / "report.html", html)
        typer.echo(f"{dirs[0]}: report.md and report.html written")
        for line in summary_lines(report):
            typer.echo(f"  {line}")
        return
    result = compare_builds(dirs, out)
    typer.echo(f"compared {len(dirs)} builds -> {result['files']['markdown']} (also comparison.html, pareto.png)")
    for key, label in (("LUT", "LUT"), ("latency_ns", "latency"), ("FF", "FF")):
        typer.echo(f"  Pareto front, accuracy vs {label}: {', '.join(result['pareto'][key]) or 'none'}")
    if result["not_plotted"]["accuracy"]:
        typer.echo(f"  not plotted (no accuracy): {', '.join(result['not_plotted']['accuracy'])}")


def _load_inputs(path: Path):
    import numpy as np

    if not path.is_file():
        raise L1ForgeError(f"{path}: no such data file")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f:
                raise L1ForgeError(f"{path}: missing array 'x' (expected an .npz with x and optional y)")
            arrays = {}
            for key in ("x", "y"):
                try:
                    arrays[key] = f[key] if key in f else None
                except ValueError as exc:
                    if "allow_pickle" in str(exc):
                        raise L1ForgeError(f"{path}: {key} is an object array (loading it would run pickle, which "
                                           "l1forge never does); save numbers") from None
                    raise
    except (OSError, ValueError, EOFError) as exc:
        raise L1ForgeError(f"{path}: not an .npz file ({exc})") from None
    x = arrays["x"]
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise L1ForgeError(f"{path}: x has dtype {x.dtype.str}; give numbers (float32)")
    bad = ~np.isfinite(x.astype(np.float64))
    if bad.any():
        raise L1ForgeError(f"{path}: x has {int(bad.sum())} NaN or infinite values (first at row "
                           f"{int(np.argwhere(bad)[0][0])})")
    return x, arrays["y"]


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
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        app(args=argv, prog_name="l1forge")  # standalone: usage errors print and exit by themselves
    except SystemExit as exc:  # typer's way of finishing, successful or not
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (L1ForgeError, OSError) as exc:  # OSError: the machine's (a full disk, a folder not writable)
        if debug:
            raise
        print(f"error: {exc if isinstance(exc, L1ForgeError) else _os_error(exc)}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"error: interrupted ({signal.Signals(exc.signum).name}); nothing written", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _interrupt(signum, frame):
    raise Interrupted(signum)


def _os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
