"""Pipelined Verilog through da4ml's code generator, with the pipelining chosen from the clock."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1forge.compiler.quiet import silenced_stdout

from ...errors import L1ForgeError
from .trace import trace_layers, trace_model

# Estimate of how much of da4ml's delay model (one unit ~ one adder level) fits in a clock
# period on an UltraScale+ (-2) part: 0.5 ns of setup and clock uncertainty, then about 0.9 ns
# per adder level including routing. Named in every report as the estimate it is.
PIPELINE_MODEL = "estimate:da4ml-adder-levels(0.9 ns/level + 0.5 ns margin, UltraScale+ -2)"
NS_PER_LEVEL, MARGIN_NS = 0.9, 0.5
TOP = "l1forge_model"


def pipeline_cutoff(clock_ns: float) -> int:
    """da4ml latency units per pipeline stage for a clock period (at least 1)."""
    return max(1, int((clock_ns - MARGIN_NS) / NS_PER_LEVEL))


@dataclass
class RtlProject:
    """A written Verilog project: the traced logic, its files and its pipeline."""
    comb: object
    path: Path
    top: str
    stages: int  # pipeline depth: clock cycles from input to output
    latency_cutoff: int
    estimated_luts: float  # da4ml's own cost model

    @property
    def noise_source(self) -> bool:
        """Whether the project has an on-chip noise source (backends/rtl/noise.py) around the network."""
        return (self.path / "src" / f"{self.top}_noisy.v").is_file()

    @property
    def firmware_top(self) -> str:
        """The module the firmware is: the network, or the noise source wrapped around it."""
        return f"{self.top}_noisy" if self.noise_source else self.top

    @property
    def stage_modules(self) -> list[str]:
        """The combinational stage modules between the pipeline registers (and the noise source)."""
        stages = [f.stem for f in sorted((self.path / "src").glob(f"{self.top}_stage*.v"))]
        return stages + ([f"{self.top}_noise"] if self.noise_source else [])

    @property
    def memory_files(self) -> list[Path]:
        """ROM contents of lookup tables ($readmemh by bare name: simulators and synthesis run
        where these lie, or get a copy)."""
        return sorted((self.path / "src" / "memfiles").glob("*.mem"))

    @property
    def verilog_files(self) -> list[Path]:
        src = self.path / "src"
        noise = [src / f"{self.top}_noise.v", src / f"{self.top}_noisy.v"] if self.noise_source else []
        return (sorted((src / "static").glob("*.v")) + sorted(src.glob(f"{self.top}_stage*.v")) + [src / f"{self.top}.v"]
                + noise)

    def layer_outputs(self, model, quantized: np.ndarray) -> list[tuple[str, str, str, np.ndarray]]:
        """(node name, its op, node name, values) per node of the canonical model, computed by
        da4ml's interpreter of the traced program with every layer kept, on quantized port rows."""
        comb, layers = trace_layers(model)
        flat = np.asarray(comb.predict(np.asarray(quantized, dtype=np.float64)))
        ops = {n.name: n.op_type for n in model.graph.node}
        out, start = [], 0
        for name, shape in layers:
            size = int(np.prod(shape))
            out.append((name, f"{ops[name]}, da4ml's traced program", name,
                        flat[:, start:start + size].reshape(len(flat), *shape)))
            start += size
        return out


def open_rtl_project(path: Path) -> RtlProject:
    """A written project from its folder: da4ml's saved program (model/comb.json, loaded with
    da4ml's own CombLogic.load) and the pipeline of its metadata.json."""
    from da4ml.types import CombLogic


    path = Path(path).resolve()
    for needed in ("metadata.json", "model/comb.json", f"src/{TOP}.v"):
        if not (path / needed).is_file():
            raise L1ForgeError(f"{path.parent}: no RTL project ({path.name}/{needed} is missing)")
    meta = json.loads((path / "metadata.json").read_text())
    return RtlProject(CombLogic.load(path / "model" / "comb.json"), path, TOP, int(meta["latency"]),
                      int(meta["latency_cutoff"]), float(meta["cost"]))


def build_rtl_project(model, out_dir: Path, clock_ns: float = 5.0, part: str = "xcvu13p-flga2577-2-e") -> RtlProject:
    """Trace the canonical model and write da4ml's pipelined Verilog for clock_ns into out_dir."""
    from da4ml.codegen import VerilogModel

    comb = trace_model(model)
    cutoff = pipeline_cutoff(clock_ns)
    out_dir = Path(out_dir).resolve()  # simulators run from other folders
    with silenced_stdout():
        vm = VerilogModel(comb, TOP, out_dir, latency_cutoff=cutoff, clock_period=clock_ns, part_name=part)
        vm.write()
    meta = json.loads((out_dir / "metadata.json").read_text())
    return RtlProject(comb, out_dir, TOP, int(meta["latency"]), cutoff, float(comb.cost))
