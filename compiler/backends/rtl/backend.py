"""The rtl Backend: da4ml Verilog (emit.py), Verilator co-simulation measuring latency and
initiation interval (hw.sim.verilator), yosys resources (hw.synth.yosys) or the estimator fitted to yosys
(hw.estimate). A driver module: it joins the lowering with hw."""
from __future__ import annotations

import time
from pathlib import Path

from l1forge.hw.estimate import estimate_noise_source, estimate_rtl

from ..base import Backend, CompileOptions
from ...errors import L1ForgeError
from .emit import PIPELINE_MODEL, build_rtl_project, open_rtl_project


class RtlBackend(Backend):
    name = "rtl"

    def check_options(self, options: CompileOptions) -> None:
        if options.vendor_synth:
            raise L1ForgeError("--synth runs the vendor tools for the hls4ml backend; the rtl backend synthesizes "
                               "with yosys unless --skip-synth")

    supports_noise_source = True

    def build(self, model, folder: Path, options: CompileOptions, timings: dict, log, noise=None) -> tuple[object, dict]:
        t = time.perf_counter()
        project = build_rtl_project(model, folder / "rtl_prj", clock_ns=options.clock_ns, part=options.part)
        timings["rtl_trace_and_write_s"] = time.perf_counter() - t
        log(f"Verilog written (da4ml): {project.stages} pipeline stages for {options.clock_ns} ns, "
            f"da4ml's estimate {project.estimated_luts:.0f} LUT")
        report = {
            "backend": "rtl",
            "pipeline": {"stages": project.stages, "latency_cutoff": project.latency_cutoff, "source": PIPELINE_MODEL},
            "latency": {"cycles": project.stages, "ns": round(project.stages * options.clock_ns, 3), "ii": 1,
                        "source": "estimate:da4ml-pipeline-depth"},
            "resources": {**estimate_rtl(project.estimated_luts, project.path / "src" / f"{project.top}.v"),
                          "estimated_LUT": round(project.estimated_luts)},
            "notes": [],
        }
        if noise is not None:
            _add_noise_source(project, noise, report, log)
        return project, report

    def simulator(self, project, model, timings: dict, log, time_limit_s=None):
        from l1forge.hw.sim.verilator import VerilatorSimulator

        simulator = VerilatorSimulator(project, model, time_limit_s)
        log("building the Verilator simulation ...")
        timings["verilator_build_s"] = simulator.build()
        return simulator

    def reopen(self, folder: Path):
        return open_rtl_project(Path(folder) / "rtl_prj")

    def measure(self, project, simulator, report: dict, options: CompileOptions, timings: dict, log) -> None:
        if simulator is not None:
            cycles = simulator.latency_cycles
            report["latency"] = {"cycles": cycles, "ns": round(cycles * options.clock_ns, 3),
                                 "ii": simulator.initiation_interval, "source": "verilator"}
        if not options.synth:
            report["notes"].append("resources: yosys synthesis skipped; LUT and FF from the estimator fitted to "
                                   "yosys, estimated_LUT is da4ml's own cost model")
            return
        from l1forge.hw.synth.yosys import synthesize, synthesize_by_module
        from l1forge.hw.tools import available_memory, plan_synthesis

        memory = options.memory_limit_gb * 1e9 if options.memory_limit_gb else available_memory()
        plan = plan_synthesis(project.estimated_luts, len(project.stage_modules), options.synth_by_stage, memory)
        if plan.note:
            log(plan.note)
            report["notes"].append(plan.note)
        workdir = project.path / "yosys"
        if plan.by_stage:
            log(f"synthesizing {len(project.stage_modules)} pipeline stages with yosys (synth_xilinx, UltraScale+, "
                f"{plan.jobs} at once) ...")
            resources, timings["yosys_s"] = synthesize_by_module(
                project.verilog_files, project.firmware_top, project.stage_modules, workdir, jobs=plan.jobs,
                progress=lambda done, total: log(f"yosys: {done}/{total} modules"), data_files=project.memory_files,
                time_limit_s=options.tool_time_limit_s)
            how = "per pipeline stage, summed"
        else:
            log("synthesizing with yosys (synth_xilinx, UltraScale+) ...")
            resources, timings["yosys_s"] = synthesize(project.verilog_files, project.firmware_top, workdir,
                                                       data_files=project.memory_files,
                                                       time_limit_s=options.tool_time_limit_s)
            how = "flat"
        report["estimate"] = {"resources": report["resources"]}
        report["resources"] = {**resources.to_dict(), "estimated_LUT": round(project.estimated_luts),
                               "source": f"yosys synth_xilinx -family xcup, {how} (not Vivado)"}
        log(f"yosys: {resources.LUT} LUT, {resources.FF} FF, {resources.DSP} DSP, {resources.CARRY} CARRY")


def _add_noise_source(project, noise, report: dict, log) -> None:
    from .noise import write_noise_source

    write_noise_source(project.path / "src", project.top, noise, project.comb)
    log(f"on-chip noise source: {noise.lanes} LFSR lanes into columns {list(noise.columns)} ({project.firmware_top})")
    extra = estimate_noise_source(noise.lanes, noise.address_bits, noise.bits)
    for key, value in extra.items():
        report["resources"][key] += value
    report["notes"].append(f"noise source on chip ({project.firmware_top}): {noise.lanes} lanes of {noise.address_bits}-bit "
                           f"LFSR-addressed Gaussian tables; the estimate adds {extra['LUT']:,} LUT and {extra['FF']:,} "
                           "FF for them (ROMs and LFSRs), yosys counts them in the design")


BACKEND = RtlBackend()
