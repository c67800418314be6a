"""compile = frontend + passes + backend + verification, written atomically to one folder; the
backend is any implementation of compiler.backends.base.Backend, found by its folder name.
cosim_build re-verifies such a folder's firmware on new inputs."""
from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import numpy as np

from l1forge.hw.sim.cosim import check_data_shape
from l1forge.hw.parts import find_part
from l1forge.hw.report import finalize, render_markdown, schema_errors

from .atomic import atomic_folder
from .backends.base import BACKEND_NAMES, Backend, CompileOptions
from .errors import L1ForgeError
from .ir import load_model, verify
from .ir.custom_ops import table_attributes
from .ir.noise import split_noise_source, with_noise_source
from .ir.types import infer_fixed_point_types
from .passes.canonicalize import canonicalize

def get_backend(name: str) -> Backend:
    """The Backend of the folder compiler/backends/<name> (its backend.py's BACKEND)."""
    if name not in BACKEND_NAMES:
        raise L1ForgeError(f"unknown backend {name!r}; available: {', '.join(BACKEND_NAMES)}")
    return importlib.import_module(f"{__package__}.backends.{name}.backend").BACKEND


def compile_model(source, out: str | Path, options: CompileOptions | None = None, *, data: np.ndarray | None = None,
                  labels: np.ndarray | None = None, log=print, **option_fields) -> dict:
    """Compile a QONNX model (path or ModelWrapper) or a (Q)Keras model into `out`; returns the report.

    `options` (a CompileOptions) says what to build; keyword fields of CompileOptions change single
    options (compile_model(src, out, backend="rtl")). With verification (the default) the firmware
    simulation must equal the emulator and QONNX execution on `data` plus options.n_random grid
    inputs, or the compile fails naming the first diverging layer and leaves no output folder.
    `labels` (with data) add the firmware's accuracy to the report.
    """
    options = CompileOptions.from_fields(options, **option_fields)
    options.check()
    fpga = find_part(options.part)
    if options.part.strip().lower() == fpga.device:  # a bare device: the tools need the full part name
        options = CompileOptions.from_fields(options, part=fpga.name)
    backend = get_backend(options.backend)
    backend.check_options(options)
    out = Path(out)
    timings = {}
    t0 = time.perf_counter()
    model, notes, from_keras = _frontend(source, options.keras)
    frontend_model = model
    noise, model = split_noise_source(model)
    if noise is not None and not backend.supports_noise_source:
        raise L1ForgeError(f"the {backend.name} backend has no on-chip noise source (NoiseSource); compile with "
                           "--backend rtl or hls4ml, or give the noise as an input stream (the model before `l1forge noise`)")
    model = canonicalize(model)  # the network alone: what the backends compile
    verify(model)
    types = infer_fixed_point_types(model)
    firmware_model = model if noise is None else with_noise_source(model, noise)
    timings["frontend_and_passes_s"] = time.perf_counter() - t0
    check_data_shape(firmware_model, data)
    with atomic_folder(out, replaceable=lambda folder: (folder / "report.json").is_file()) as staging:
        firmware_model.save(str(staging / "canonical.onnx"))
        project, fields = backend.build(model, staging, options, timings, log, noise=noise)
        report = {"model": model.graph.name or "model", "part": options.part, "clock_ns": options.clock_ns, **fields}
        if noise is not None:
            report["noise_source"] = {"columns": list(noise.columns), **noise.quality()}
        simulator = (backend.simulator(project, firmware_model, timings, log, options.tool_time_limit_s)
                     if options.verify_firmware else None)
        report["verification"] = _verify(firmware_model, simulator, data, options.n_random, options.seed, timings, log)
        backend.measure(project, simulator, report, options, timings, log)
        report["tensor_types"] = {k: str(v) for k, v in types.items()}
        if tables := table_summary(model, types):
            report["tables"] = tables
        report["notes"] = notes + report["notes"]
        _add_accuracy(report, firmware_model, data, labels)
        if from_keras:
            from .tools.keras_check import final_layer_change

            change = final_layer_change(frontend_model, model, data, labels, options.n_random, options.seed)
            if change is not None:
                report["final_layer_quantization"] = change
        report["timings"] = {k: round(v, 3) for k, v in timings.items()}
        report["source"] = str(source) if isinstance(source, (str, Path)) else "in-memory model"
        if isinstance(source, (str, Path)):
            report["model"] = (Path(source).stem if Path(source).stem not in ("model", "keras_model")
                               else Path(source).parent.name or "model")
        finalize(report, fpga, options.latency_budget_ns)
        _write_reports(staging, report)
        backend.relocate(project, out)
    return report


KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


def table_summary(model, types) -> list[dict]:
    """Each Table of the canonical model: what it tabulates, its size and types, and its largest
    error against the float function over its input grid."""
    rows = []
    for node in model.graph.node:
        if node.op_type == "Table":
            table = table_attributes(node)
            rows.append({"node": node.name, "function": table["function"], "entries": len(table["values"]),
                         "input_type": str(types[node.input[0]]), "output_type": str(types[node.output[0]]),
                         "max_error": table["max_error"]})
    return rows


def _frontend(source, keras_options: dict):
    """The QONNX model, the frontend's notes and whether it came from the Keras frontend: a
    QONNX/ONNX file or model, or a (Q)Keras model (.h5 file or in-memory, converted by
    compiler.frontends.keras with keras_options)."""
    is_path = isinstance(source, (str, Path))
    if (is_path and Path(source).suffix.lower() in KERAS_SUFFIXES) or hasattr(source, "to_json"):
        from .frontends.keras import conversion_notes, load_keras

        model = load_keras(source, **keras_options)
        return model, [f"keras frontend: {n}" for n in conversion_notes(model)], True
    return load_model(source), [], False


def _verify(model, simulator, data, n_random, seed, timings, log) -> dict:
    """Co-simulate firmware, emulator and QONNX; raise naming the first divergence."""
    if simulator is None:
        return {"status": "unverified"}
    result = _cosimulate(model, simulator, data, n_random, seed, timings, log)
    return {"status": "bit-exact", **result.to_dict()}


def _cosimulate(model, simulator, data, n_random, seed, timings, log, keep_outputs: bool = False):
    from l1forge.hw.sim.cosim import cosimulate

    t = time.perf_counter()
    result = cosimulate(model, simulator, data=data, n_random=n_random, seed=seed, keep_outputs=keep_outputs)
    timings["cosim_s"] = time.perf_counter() - t
    if result.mismatches["firmware_vs_emulator"]:
        where = (f"first divergent layer: {result.first_divergent_layer} ({result.detail})"
                 if result.first_divergent_layer else result.detail
                 or "the backend keeps no per-layer trace to name the first divergent layer")
        raise L1ForgeError(f"firmware differs from the model on {result.mismatches['firmware_vs_emulator']} "
                           f"of {result.samples} inputs; {where}")
    if not result.bit_exact:
        raise L1ForgeError(f"the integer emulator differs from QONNX execution ({result.qonnx_precision}) on "
                           f"{result.mismatches['emulator_vs_qonnx']} of {result.samples} inputs: an l1forge "
                           "bug, please report it with the model")
    log(f"verified: bit-exact on {result.samples} inputs ({result.data_samples} data, "
        f"{result.random_samples} random on the input grid)")
    return result


def cosim_build(folder: str | Path, data: np.ndarray, log=print) -> tuple[np.ndarray, dict]:
    """Run an existing compile folder's firmware (its backend's simulation of the project in the
    folder, reopened with the tool's own API) on `data`, and prove it equal to the folder's
    canonical model (emulator and QONNX). Returns the firmware's outputs (one row per input,
    in the model's output shape) and the verification summary; raises naming the first
    divergence. The folder's sources are only read; the simulators rebuild their binaries in it, as
    the compile did."""
    folder = Path(folder)
    report_file, model_file = folder / "report.json", folder / "canonical.onnx"
    if not folder.is_dir():
        raise L1ForgeError(f"{folder}: no such build folder")
    for needed in (report_file, model_file):
        if not needed.is_file():
            raise L1ForgeError(f"{folder}: not an l1forge build ({needed.name} is missing)")
    try:
        backend_name = json.loads(report_file.read_text()).get("backend")
    except (ValueError, AttributeError):
        raise L1ForgeError(f"{report_file}: not a JSON report") from None
    backend = get_backend(str(backend_name))
    model = load_model(model_file)
    check_data_shape(model, data)
    project = backend.reopen(folder)
    timings: dict = {}
    simulator = backend.simulator(project, model, timings, log)
    result = _cosimulate(model, simulator, np.asarray(data), 0, 0, timings, log, keep_outputs=True)
    out_shape = list(model.get_tensor_shape(model.graph.output[0].name)[1:])
    return result.outputs.reshape([len(data)] + out_shape), {"backend": backend.name, **result.to_dict()}


def _add_accuracy(report: dict, model, data, labels) -> None:
    if labels is not None and data is not None:
        from .ir.emulator import emulate_stream

        pred = emulate_stream(model, np.asarray(data, dtype=np.float32)).reshape(len(data), -1).argmax(axis=1)
        report["accuracy"] = {"samples": int(len(labels)), "accuracy": float((pred == np.asarray(labels)).mean()),
                              "source": "emulator (bit-exact with the firmware)"}


def _write_reports(folder: Path, report: dict) -> None:
    from l1forge.hw.report.html import render_html

    errors = schema_errors(report)
    if errors:  # the report is l1forge's own making: a mismatch is a bug, never the user's input
        raise L1ForgeError(f"the compile report does not match its schema ({errors[0]}): an l1forge bug, please "
                           "report it with the model")
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(report))
    (folder / "report.html").write_text(render_html(report))
