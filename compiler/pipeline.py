"""compile = frontend + passes + backend + verification, written atomically to one folder."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from hw.cosim import check_data_shape
from hw.parts import find_part
from hw.report import finalize, render_markdown

from .errors import L1ForgeError
from .ir import load_model, verify
from .passes.canonicalize import canonicalize
from .ir.types import infer_fixed_point_types

BACKENDS = ("hls4ml", "rtl")
DEFAULT_PART = "xcvu13p-flga2577-2-e"


def compile_model(source, out: str | Path, backend: str = "hls4ml", part: str = DEFAULT_PART,
                  clock_ns: float = 5.0, reuse_factor: int = 1, hls_tool: str = "Vitis",
                  data: np.ndarray | None = None, labels: np.ndarray | None = None, n_random: int = 2000,
                  verify_firmware: bool = True, seed: int = 0, synth: bool = True,
                  synth_by_stage: bool = False, vendor_synth: bool = False, latency_budget_ns: float = 100.0,
                  keras_options: dict | None = None, log=print) -> dict:
    """Compile a QONNX model (path or ModelWrapper) into `out`; returns the report dict.

    With verification (the default) the firmware simulation must equal the emulator and QONNX
    execution on `data` plus n_random grid inputs, or the compile fails naming the first
    diverging layer and leaves no output folder. The rtl backend also measures latency and
    initiation interval in Verilator and, with synth, resources with yosys (one flat run, or with
    synth_by_stage one run per pipeline stage: less memory and parallel, no cross-stage optimization).
    The hls4ml backend reports the estimator's figures, or with vendor_synth the HLS tool's latency
    and Vivado's post-synthesis resources (the tools must be on the PATH).
    """
    if backend not in BACKENDS:
        raise L1ForgeError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if hls_tool not in ("Vitis", "Vivado"):
        raise L1ForgeError(f"--hls-tool must be Vitis or Vivado, got {hls_tool!r}")
    if reuse_factor < 1:
        raise L1ForgeError(f"--reuse-factor must be >= 1, got {reuse_factor}")
    if not clock_ns > 0 or not latency_budget_ns > 0:
        raise L1ForgeError(f"--clock-ns and --latency-budget-ns must be positive, got {clock_ns} and {latency_budget_ns}")
    fpga = find_part(part)
    if part.strip().lower() == fpga.device:  # a bare device: the tools need the full part name
        part = fpga.name
    if vendor_synth:
        from hw.vendor_synth import require_vendor_tool

        if backend != "hls4ml":
            raise L1ForgeError("--synth runs the vendor tools for the hls4ml backend; the rtl backend synthesizes "
                               "with yosys unless --skip-synth")
        require_vendor_tool(hls_tool)
    out = Path(out)
    timings = {}
    t0 = time.perf_counter()
    model, notes, from_keras = _frontend(source, keras_options or {})
    frontend_model = model
    model = canonicalize(model)
    verify(model)
    types = infer_fixed_point_types(model)
    timings["frontend_and_passes_s"] = time.perf_counter() - t0
    check_data_shape(model, data)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        model.save(str(staging / "canonical.onnx"))
        if backend == "rtl":
            report = _build_rtl(model, staging, part, clock_ns, data, n_random, verify_firmware, synth,
                                synth_by_stage, seed,
                                timings, log)
        else:
            report = _build_hls4ml(model, types, staging, part, clock_ns, reuse_factor, hls_tool, data, n_random,
                                   verify_firmware, vendor_synth, seed, timings, log)
        report["tensor_types"] = {k: str(v) for k, v in types.items()}
        report["notes"] = notes + report["notes"]
        _add_accuracy(report, model, data, labels)
        change = None
        if from_keras:
            from .keras_check import final_layer_change

            change = final_layer_change(frontend_model, model, data, labels, n_random, seed)
        if change is not None:
            report["final_layer_quantization"] = change
        report["timings"] = {k: round(v, 3) for k, v in timings.items()}
        report["source"] = str(source) if isinstance(source, (str, Path)) else "in-memory model"
        if isinstance(source, (str, Path)):
            report["model"] = (Path(source).stem if Path(source).stem not in ("model", "keras_model")
                                   else Path(source).parent.name or "model")
        finalize(report, fpga, latency_budget_ns)
        _write_reports(staging, report)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


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


def _build_hls4ml(model, types, staging, part, clock_ns, reuse_factor, hls_tool, data, n_random,
                  verify_firmware, vendor_synth, seed, timings, log) -> dict:
    from hw.hls_csim import HlsCSimulator

    from .backends.hls4ml import build_hls_model

    t = time.perf_counter()
    project = build_hls_model(model, staging / "hls4ml_prj", part=part, clock_ns=clock_ns, backend=hls_tool,
                              reuse_factor=reuse_factor)
    project.write()
    timings["hls_project_s"] = time.perf_counter() - t
    log(f"hls4ml project written ({len(project.layers)} layers, {hls_tool}, {part}, {clock_ns} ns)")
    report = {
        "model": model.graph.name or "model", "backend": "hls4ml", "hls_tool": hls_tool, "part": part,
        "clock_ns": clock_ns, "reuse_factor": reuse_factor, "io_type": "io_parallel", "strategy": "Latency",
        "layers": [{"name": l.spec["name"], "class": l.spec["class_name"], "implements": l.sources,
                    "precision": l.precision} for l in project.layers],
        "latency": None, "resources": None, "notes": [],
    }
    _add_estimate(report, project, reuse_factor, clock_ns)
    simulator = None
    if verify_firmware:
        simulator = HlsCSimulator(project)
        log("building the C simulation (g++) ...")
        timings["csim_build_s"] = simulator.build()
    report["verification"] = _verify(model, simulator, data, n_random, seed, timings, log)
    if vendor_synth:
        from hw.vendor_synth import run_vendor_synthesis

        log(f"running {hls_tool} HLS and Vivado synthesis (hours for large designs) ...")
        t = time.perf_counter()
        vendor = run_vendor_synthesis(project.hls_model, hls_tool, staging / "hls4ml_prj", clock_ns)
        timings["vendor_synthesis_s"] = time.perf_counter() - t
        report["estimate"] = {"latency": report["latency"], "resources": report["resources"]}
        report["latency"], report["resources"] = vendor["latency"], vendor["resources"]
        report["vendor_layers"] = vendor["layers"]
        if "timing" in vendor:
            report["timing"] = vendor["timing"]
        report["notes"] = [n for n in report["notes"] if not n.startswith("latency and resources: estimate:")]
        report["notes"].append(f"latency: {vendor['latency']['source']}; resources: {vendor['resources']['source']}; "
                               "per-layer figures: the estimator (the HLS tool's own per-module figures are in "
                               "vendor_layers)")
    return report


def _add_estimate(report: dict, project, reuse_factor: int, clock_ns: float) -> None:
    """Latency and resources per layer and in total from the estimator (no vendor tools)."""
    from hw.estimate import estimate_hls4ml

    from .backends.hls4ml.shapes import layer_shapes

    est = estimate_hls4ml(layer_shapes(project.layers, reuse_factor), clock_ns)
    report["latency"], report["resources"] = est["latency"], est["resources"]
    for layer, figures in zip(report["layers"], est["layers"]):
        layer["latency"], layer["resources"] = figures["latency"], figures["resources"]
    report["notes"].append(f"latency and resources: {est['resources']['source']}, fitted to Vivado 2020.1 on the "
                           "seed paper's deep sets (README: estimator errors); no vendor tool ran")


def _build_rtl(model, staging, part, clock_ns, data, n_random, verify_firmware, synth, synth_by_stage, seed, timings,
               log) -> dict:
    from hw.verilator import VerilatorSimulator
    from hw.estimate import estimate_rtl
    from hw.yosys import synthesize, synthesize_by_module

    from .backends.rtl import build_rtl_project
    from .backends.rtl.emit import PIPELINE_MODEL

    t = time.perf_counter()
    project = build_rtl_project(model, staging / "rtl_prj", clock_ns=clock_ns, part=part)
    timings["rtl_trace_and_write_s"] = time.perf_counter() - t
    log(f"Verilog written (da4ml): {project.stages} pipeline stages for {clock_ns} ns, "
        f"da4ml's estimate {project.estimated_luts:.0f} LUT")
    report = {
        "model": model.graph.name or "model", "backend": "rtl", "part": part, "clock_ns": clock_ns,
        "pipeline": {"stages": project.stages, "latency_cutoff": project.latency_cutoff, "source": PIPELINE_MODEL},
        "latency": {"cycles": project.stages, "ns": round(project.stages * clock_ns, 3), "ii": 1,
                    "source": "estimate:da4ml-pipeline-depth"},
        "resources": {**estimate_rtl(project.estimated_luts, project.path / "src" / f"{project.top}.v"),
                      "estimated_LUT": round(project.estimated_luts)},
        "notes": [],
    }
    simulator = None
    if verify_firmware:
        simulator = VerilatorSimulator(project, model)
        log("building the Verilator simulation ...")
        timings["verilator_build_s"] = simulator.build()
    report["verification"] = _verify(model, simulator, data, n_random, seed, timings, log)
    if simulator is not None:
        report["latency"] = {"cycles": simulator.latency_cycles, "ns": round(simulator.latency_cycles * clock_ns, 3),
                             "ii": simulator.initiation_interval, "source": "verilator"}
    if synth:
        workdir = staging / "rtl_prj" / "yosys"
        if synth_by_stage:
            log(f"synthesizing {len(project.stage_modules)} pipeline stages with yosys (synth_xilinx, UltraScale+) ...")
            resources, timings["yosys_s"] = synthesize_by_module(
                project.verilog_files, project.top, project.stage_modules, workdir,
                progress=lambda done, total: log(f"yosys: {done}/{total} modules"))
            how = "per pipeline stage, summed"
        else:
            log("synthesizing with yosys (synth_xilinx, UltraScale+) ...")
            resources, timings["yosys_s"] = synthesize(project.verilog_files, project.top, workdir)
            how = "flat"
        report["estimate"] = {"resources": report["resources"]}
        report["resources"] = {**resources.to_dict(), "estimated_LUT": round(project.estimated_luts),
                               "source": f"yosys synth_xilinx -family xcup, {how} (not Vivado)"}
        log(f"yosys: {resources.LUT} LUT, {resources.FF} FF, {resources.DSP} DSP, {resources.CARRY} CARRY")
    else:
        report["notes"].append("resources: yosys synthesis skipped; LUT and FF from the estimator fitted to yosys, "
                               "estimated_LUT is da4ml's own cost model")
    return report


def _verify(model, simulator, data, n_random, seed, timings, log) -> dict:
    """Co-simulate firmware, emulator and QONNX; raise naming the first divergence."""
    from hw.cosim import cosimulate

    if simulator is None:
        return {"status": "unverified"}
    t = time.perf_counter()
    result = cosimulate(model, simulator, data=data, n_random=n_random, seed=seed)
    timings["cosim_s"] = time.perf_counter() - t
    if result.mismatches["firmware_vs_emulator"]:
        raise L1ForgeError(f"firmware differs from the model on {result.mismatches['firmware_vs_emulator']} "
                           f"of {result.samples} inputs; first divergent layer: {result.first_divergent_layer} "
                           f"({result.detail})")
    if not result.bit_exact:
        raise L1ForgeError(f"the integer emulator differs from QONNX execution ({result.qonnx_precision}) on "
                           f"{result.mismatches['emulator_vs_qonnx']} of {result.samples} inputs: an l1forge "
                           "bug, please report it with the model")
    log(f"verified: bit-exact on {result.samples} inputs ({result.data_samples} data, "
        f"{result.random_samples} random on the input grid)")
    return {"status": "bit-exact", **result.to_dict()}


def _add_accuracy(report: dict, model, data, labels) -> None:
    if labels is not None and data is not None:
        from .ir.emulator import emulate
        pred = emulate(model, np.asarray(data, dtype=np.float32)).reshape(len(data), -1).argmax(axis=1)
        report["accuracy"] = {"samples": int(len(labels)), "accuracy": float((pred == np.asarray(labels)).mean()),
                              "source": "emulator (bit-exact with the firmware)"}


def _write_reports(folder: Path, report: dict) -> None:
    from hw.report_html import render_html

    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(report))
    (folder / "report.html").write_text(render_html(report))
