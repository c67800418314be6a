"""compile = frontend + passes + backend + verification, written atomically to one folder."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .errors import L1ForgeError
from .ir import load_model, verify
from .passes.canonicalize import canonicalize
from .passes.fixed_point_types import infer_fixed_point_types

BACKENDS = ("hls4ml", "rtl")
DEFAULT_PART = "xcvu13p-flga2577-2-e"


def compile_model(source, out: str | Path, backend: str = "hls4ml", part: str = DEFAULT_PART,
                  clock_ns: float = 5.0, reuse_factor: int = 1, hls_tool: str = "Vitis",
                  data: np.ndarray | None = None, labels: np.ndarray | None = None, n_random: int = 2000,
                  verify_firmware: bool = True, seed: int = 0, synth: bool = True, log=print) -> dict:
    """Compile a QONNX model (path or ModelWrapper) into `out`; returns the report dict.

    With verification (the default) the firmware simulation must equal the emulator and QONNX
    execution on `data` plus n_random grid inputs, or the compile fails naming the first
    diverging layer and leaves no output folder. The rtl backend also measures latency and
    initiation interval in Verilator and, with synth, resources with yosys.
    """
    if backend not in BACKENDS:
        raise L1ForgeError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if hls_tool not in ("Vitis", "Vivado"):
        raise L1ForgeError(f"--hls-tool must be Vitis or Vivado, got {hls_tool!r}")
    if reuse_factor < 1:
        raise L1ForgeError(f"--reuse-factor must be >= 1, got {reuse_factor}")
    out = Path(out)
    timings = {}
    t0 = time.perf_counter()
    model = canonicalize(load_model(source))
    verify(model)
    types = infer_fixed_point_types(model)
    timings["frontend_and_passes_s"] = time.perf_counter() - t0
    in_shape = list(model.get_tensor_shape(model.graph.input[0].name)[1:])
    if data is not None and list(np.shape(data)[1:]) != in_shape:
        raise L1ForgeError(f"data shape {list(np.shape(data)[1:])} (per sample) does not match the model "
                           f"input {in_shape}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        model.save(str(staging / "canonical.onnx"))
        if backend == "rtl":
            report = _build_rtl(model, staging, part, clock_ns, data, n_random, verify_firmware, synth, seed,
                                timings, log)
        else:
            report = _build_hls4ml(model, types, staging, part, clock_ns, reuse_factor, hls_tool, data, n_random,
                                   verify_firmware, seed, timings, log)
        report["tensor_types"] = {k: str(v) for k, v in types.items()}
        _add_accuracy(report, model, data, labels)
        report["timings"] = {k: round(v, 3) for k, v in timings.items()}
        report["source"] = str(source) if isinstance(source, (str, Path)) else "in-memory model"
        if isinstance(source, (str, Path)):
            report["model"] = Path(source).stem if Path(source).stem != "model" else Path(source).parent.name or "model"
        _write_reports(staging, report)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _build_hls4ml(model, types, staging, part, clock_ns, reuse_factor, hls_tool, data, n_random,
                  verify_firmware, seed, timings, log) -> dict:
    from hw.hls_csim import HlsCSimulator

    from .backends.hls4ml import build_hls_model

    t = time.perf_counter()
    project = build_hls_model(model, staging / "hls4ml_prj", part=part, clock_ns=clock_ns, backend=hls_tool,
                              reuse_factor=reuse_factor)
    project.hls_model.write()
    timings["hls_project_s"] = time.perf_counter() - t
    log(f"hls4ml project written ({len(project.layers)} layers, {hls_tool}, {part}, {clock_ns} ns)")
    report = {
        "model": model.graph.name or "model", "backend": "hls4ml", "hls_tool": hls_tool, "part": part,
        "clock_ns": clock_ns, "reuse_factor": reuse_factor, "io_type": "io_parallel", "strategy": "Latency",
        "layers": [{"name": l.spec["name"], "class": l.spec["class_name"], "implements": l.sources,
                    "precision": l.precision} for l in project.layers],
        "latency": None, "resources": None,
        "notes": ["latency and resources: not estimated by this backend yet (no vendor tools here)"],
    }
    simulator = None
    if verify_firmware:
        simulator = HlsCSimulator(project)
        log("building the C simulation (g++) ...")
        timings["csim_build_s"] = simulator.build()
    report["verification"] = _verify(model, simulator, data, n_random, seed, timings, log)
    return report


def _build_rtl(model, staging, part, clock_ns, data, n_random, verify_firmware, synth, seed, timings, log) -> dict:
    from hw.verilator import VerilatorSimulator
    from hw.yosys import synthesize

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
                    "source": "da4ml pipeline depth (not simulated)"},
        "resources": {"estimated_LUT": round(project.estimated_luts), "source": "estimate:da4ml-cost"},
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
        log("synthesizing with yosys (synth_xilinx, UltraScale+) ...")
        resources, timings["yosys_s"] = synthesize(project.verilog_files, project.top, staging / "rtl_prj" / "yosys")
        report["resources"] = {**resources.to_dict(), "estimated_LUT": round(project.estimated_luts),
                               "source": "yosys synth_xilinx -family xcup (not Vivado)"}
        log(f"yosys: {resources.LUT} LUT, {resources.FF} FF, {resources.DSP} DSP, {resources.CARRY} CARRY")
    else:
        report["notes"].append("resources: yosys synthesis skipped; estimated_LUT is da4ml's cost model")
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
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    v = report["verification"]
    if report["backend"] == "hls4ml":
        backend = (f"hls4ml ({report['hls_tool']}, {report['io_type']}, {report['strategy']}, "
                   f"reuse factor {report['reuse_factor']})")
    else:
        backend = f"rtl (da4ml Verilog, {report['pipeline']['stages']} pipeline stages)"
    lines = [f"# l1forge compile report: {report['model']}", "",
             f"- backend: {backend}",
             f"- part: {report['part']}, clock {report['clock_ns']} ns",
             f"- verification: {v['status']}" + (f" on {v['samples']} inputs" if "samples" in v else ""),
             ]
    lat = report.get("latency")
    if lat:
        lines.append(f"- latency: {lat['cycles']} cycles = {lat['ns']} ns, II {lat['ii']} ({lat['source']})")
    res = report.get("resources")
    if res:
        figures = ", ".join(f"{k} {res[k]}" for k in ("LUT", "FF", "DSP", "CARRY", "MUXF", "BRAM", "estimated_LUT")
                            if k in res)
        lines.append(f"- resources: {figures} ({res['source']})")
    if "accuracy" in report:
        lines.append(f"- accuracy: {report['accuracy']['accuracy']:.4f} on {report['accuracy']['samples']} labelled inputs")
    if "layers" in report:
        lines += ["", "| layer | class | precision |", "|---|---|---|"]
        for layer in report["layers"]:
            prec = ", ".join(f"{k}={v}" for k, v in layer["precision"].items())
            lines.append(f"| {layer['name']} | {layer['class']} | {prec} |")
    lines += ["", *[f"- {n}" for n in report["notes"]], ""]
    (folder / "report.md").write_text("\n".join(lines))
