"""The finn Backend: l1forge's integer lowering (lowering.py), then finn-plus in its own
environment (worker.py): HW layers, specialisation, folding for a cycles-per-frame target,
FINN's per-layer estimates and generated HLS/Verilog; verification by FINN's python execution
of the HW layers. A driver module: it joins the lowering with the FINN environment."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from l1forge.hw.sim.finn_exec import FinnPythonSimulator, run_worker

from ...errors import L1ForgeError
from ..base import Backend, CompileOptions
from .lowering import lower_for_finn
from .project import WORKER, FinnProject, finn_python, open_finn_project

ESTIMATE = "estimate:finn-plus-1.6.1"
# What --synth runs (FINN's HLSSynthIP, CreateStitchedIP, SynthOutOfContext) and the variable FINN
# reads the Vivado version from.
VENDOR_TOOLS = ("vitis_hls", "vivado")
VENDOR_VARIABLES = ("XILINX_VIVADO",)
# SetFolding stops widening a layer when its weight stream per PE passes this many bits (FINN's
# default 36 suits weights streamed from BRAM; a trigger's few-cycle targets need whole rows).
MAX_WEIGHT_STREAM_BITS = 1 << 16
# Weights as constants in the layer's logic (FINN's internal_embedded), as a trigger design keeps
# them: no weight stream, so its width does not cap PE and SIMD.
MEM_MODE = "internal_embedded"


class FinnBackend(Backend):
    name = "finn"

    def check_options(self, options: CompileOptions) -> None:
        if options.vendor_synth:
            missing = [tool for tool in VENDOR_TOOLS if shutil.which(tool) is None]
            missing += [f"${var}" for var in VENDOR_VARIABLES if not os.environ.get(var)]
            if missing:
                raise L1ForgeError(f"--synth for the finn backend needs {', '.join(VENDOR_TOOLS)} on the PATH and "
                                   f"{', '.join('$' + v for v in VENDOR_VARIABLES)} set; missing: {', '.join(missing)} "
                                   "(without --synth the report gives FINN's estimates)")
        if options.finn_target_cycles is not None and options.finn_target_cycles < 1:
            raise L1ForgeError(f"--finn-target-cycles must be >= 1, got {options.finn_target_cycles}")

    def build(self, model, folder: Path, options: CompileOptions, timings: dict, log, noise=None) -> tuple[object, dict]:
        t = time.perf_counter()
        graph = lower_for_finn(model)
        path = (folder / "finn_prj").resolve()  # the worker runs elsewhere: it is given absolute paths
        path.mkdir(parents=True)
        graph.model.save(str(path / "lowered.onnx"))
        timings["finn_lowering_s"] = time.perf_counter() - t
        target = options.finn_target_cycles or target_cycles(options)
        log(f"FINN: {len(graph.model.graph.node)} integer nodes; converting to HW layers, folding for {target} "
            "cycles per frame ...")
        t = time.perf_counter()
        request = {"lowered": str(path / "lowered.onnx"), "folder": str(path), "part": options.part,
                   "clock_ns": options.clock_ns, "target_cycles": target, "mem_mode": MEM_MODE,
                   "max_weight_stream_bits": MAX_WEIGHT_STREAM_BITS, "log": str(path / "finn.log")}
        answer = run_worker(finn_python(), WORKER, "build", request, "the FINN build", options.tool_time_limit_s)
        timings["finn_build_s"] = time.perf_counter() - t
        timings.update(answer["timings"])  # the FINN steps inside the build
        project = FinnProject(path, {
            "input_shape": graph.input_shape, "input_frac": graph.input_frac, "output_frac": graph.output_frac,
            "canonical_tensors": graph.canonical_tensors, "target_cycles": target, "layers": answer["layers"],
            "lowered_layers": graph.layers})
        project.write_interface()
        layers = answer["layers"]
        cycles = [layer["cycles"] for layer in layers]
        # a FINN layer keeps the output tensor of the lowered nodes it fuses
        implements = _implements(layers, graph.layers)
        counts = [part_counts(layer["resources"]) for layer in layers]
        total = {k: sum(c[k] for c in counts) for k in counts[0]}
        report = {
            "backend": "finn", "folding": {"target_cycles_per_frame": target,
                                           "layers": [{k: layer[k] for k in ("name", "op", "folding", "cycles")}
                                                      for layer in layers]},
            "layers": [{"name": layer["name"], "class": layer["op"], "implements": implements[layer["name"]],
                        "latency": {"cycles": layer["cycles"], "source": ESTIMATE},
                        "resources": {**c, "source": ESTIMATE}} for layer, c in zip(layers, counts)],
            "latency": {"cycles": sum(cycles), "ns": round(sum(cycles) * options.clock_ns, 3), "ii": max(cycles),
                        "source": f"{ESTIMATE} (exp_cycles_per_layer, summed over the dataflow layers)"},
            "resources": {**total, "source": f"{ESTIMATE} (res_estimation, summed over layers)"},
            "notes": ["finn: the firmware takes the input quantizer's integer codes "
                      f"(value * 2**{graph.input_frac}, shape {graph.input_shape}) and returns output codes "
                      f"(value = code * 2**-{graph.output_frac})",
                      "finn: latency sums FINN's expected cycles per layer (no FIFO or stitching overhead); "
                      "synthesis, IP stitching and the HLS layers' simulation need Vivado/Vitis HLS"],
        }
        log(f"FINN: {', '.join(layer['op'] for layer in layers)}; {sum(cycles)} cycles expected, "
            f"{total['LUT']} LUT, {total['DSP']} DSP ({ESTIMATE})")
        return project, report

    def simulator(self, project, model, timings: dict, log, time_limit_s=None):
        log("verifying with FINN's python execution of the HW layers ...")
        return FinnPythonSimulator(project, model, finn_python(), WORKER, time_limit_s)

    def measure(self, project, simulator, report: dict, options: CompileOptions, timings: dict, log) -> None:
        if options.vendor_synth:
            log("running Vitis HLS on every HLS layer, stitching the IP and placing and routing it in Vivado "
                "(hours for large designs) ...")
            request = {"folded": str(project.path / "folded.onnx"), "part": options.part,
                       "clock_ns": options.clock_ns, "log": str(project.path / "finn_synth.log")}
            answer = run_worker(finn_python(), WORKER, "synth", request, "the FINN Vivado build")
            timings["vendor_synthesis_s"] = answer["seconds"]
            report["estimate"] = {"latency": report["latency"], "resources": report["resources"]}
            report["resources"], timing = vivado_figures(Path(answer["report_dir"]), options.clock_ns)
            if timing:
                report["timing"] = timing
            report["notes"].append(f"finn --synth: resources from Vivado's out-of-context place and route of FINN's "
                                   f"stitched IP ({answer['stitched_project']}); latency stays FINN's estimate")
        if simulator is None or simulator.rtl_layers is None:
            return
        rtl, skipped = simulator.rtl_layers, simulator.rtl_not_simulated
        report["verification"]["rtl_layers"] = rtl
        hls = [layer["name"] for layer in report["layers"] if layer["class"].endswith("_hls")]
        simulated = (f"{', '.join(row['name'] for row in rtl)} bit-exact in Verilator on "
                     f"{rtl[0]['frames']} frames' AXI streams" if rtl else "none simulated")
        report["notes"].append(f"finn: RTL layers: {simulated}; HLS layers not simulated at RTL "
                               f"(need Vitis HLS): {', '.join(hls) or 'none'}")
        if skipped:
            report["verification"]["rtl_layers_not_simulated"] = skipped
            report["notes"].append(f"finn: RTL layers not simulated: {', '.join(row['name'] for row in skipped)} "
                                   f"({'; '.join(sorted({row['reason'] for row in skipped}))})")
        log(f"FINN RTL layers in Verilator: {simulated}" + (f"; {len(skipped)} not buildable" if skipped else ""))

    def reopen(self, folder: Path):
        return open_finn_project(Path(folder) / "finn_prj")

    def relocate(self, project, final_folder: Path) -> None:
        project.relocate(Path(final_folder) / "finn_prj")


def vivado_figures(report_dir: Path, clock_ns: float) -> tuple[dict, dict | None]:
    """Resources and timing from the Vivado reports FINN's out-of-context run writes
    (ooc_utilization.rpt, ooc_timing.rpt), read by l1forge's own parsers: FINN's misses a
    footnoted "CLB LUTs*" row and reads a per-SLR one (pinned in the tests)."""
    from l1forge.hw.synth.vendor_reports import parse_vivado_timing, parse_vivado_utilization

    util = parse_vivado_utilization(Path(report_dir) / "ooc_utilization.rpt")
    resources = {k: util[k] for k in ("LUT", "FF", "DSP", "BRAM", "URAM", "CARRY", "LUTRAM", "source", "kind")
                 if k in util}
    timing = Path(report_dir) / "ooc_timing.rpt"
    return resources, parse_vivado_timing(timing, clock_ns=clock_ns) if timing.is_file() else None


def _implements(layers: list[dict], lowered: list[dict]) -> dict[str, list[str]]:
    """The canonical nodes each FINN layer computes. A FINN layer keeps the output tensor of the
    lowered nodes it fuses; one FINN inserts itself (the sliding window before a Pool) serves the
    layer after it."""
    by_output = {row["output"]: row["implements"] for row in lowered}
    out, following = {}, []
    for layer in reversed(layers):
        following = by_output.get(layer["output"], following)
        out[layer["name"]] = following
    return out


def part_counts(finn: dict) -> dict:
    """FINN's per-layer estimate in the part's units (BRAM in 36 Kb blocks; FINN counts 18 Kb)."""
    return {"LUT": round(finn.get("LUT", 0)), "DSP": round(finn.get("DSP", 0)),
            "BRAM": finn.get("BRAM_18K", 0) / 2, "URAM": round(finn.get("URAM", 0))}


def target_cycles(options: CompileOptions) -> int:
    """Cycles per frame asked of every layer: the latency budget spread over a few layers, at
    least 1 (FINN folds each layer to reach it where its weights allow)."""
    return max(1, int(options.latency_budget_ns / options.clock_ns) // 4)


BACKEND = FinnBackend()
