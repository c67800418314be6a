"""What every backend implements (Backend) and what a compile is asked to do (CompileOptions).

A backend is a folder `compiler/backends/<name>/`: its lowering table, its project writer and a
module `backend.py` whose `BACKEND` implements this interface (compiler.pipeline finds it by
the folder's name, listed in BACKEND_NAMES). The pipeline then runs, for any backend:
check_options -> build -> simulator (when verifying) -> co-simulation -> measure -> relocate;
`l1forge cosim` runs reopen -> simulator -> co-simulation on an existing build.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

from ..errors import L1ForgeError

BACKEND_NAMES = ("hls4ml", "rtl", "finn")
DEFAULT_PART = "xcvu13p-flga2577-2-e"


@dataclass(frozen=True)
class CompileOptions:
    """Everything a compile can be told, with the defaults of `l1forge compile`."""
    backend: str = "hls4ml"
    part: str = DEFAULT_PART
    clock_ns: float = 5.0
    latency_budget_ns: float = 100.0
    verify_firmware: bool = True  # co-simulate; False makes the report say "unverified"
    n_random: int = 2000  # random inputs on the input grid, extremes included, beside the user's data
    seed: int = 0
    # hls4ml
    reuse_factor: int = 1
    hls_tool: str = "Vitis"
    vendor_synth: bool = False  # run Vitis/Vivado HLS and Vivado synthesis (must be on the PATH)
    # rtl
    synth: bool = True  # yosys synthesis
    synth_by_stage: bool = False  # one yosys run per pipeline stage (less memory, no cross-stage optimization)
    # finn: cycles per frame every layer is folded for (None: derived from the latency budget)
    finn_target_cycles: int | None = None
    # limits of external tool runs (yosys, Verilator): seconds per run (None: hw.tools' default)
    # and the memory yosys may plan for (None: what the machine has available)
    tool_time_limit_s: float | None = None
    memory_limit_gb: float | None = None
    # Keras sources: input_type, final_layer, final_type (compiler.frontends.keras.load_keras)
    keras: dict = field(default_factory=dict)

    @classmethod
    def from_fields(cls, options: "CompileOptions | None" = None, **changes) -> "CompileOptions":
        """`options` (or the defaults) with some fields changed; a clear error for unknown names."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown compile option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(options or cls(), **changes)

    def check(self) -> None:
        """The checks every backend shares (one-line errors naming the option)."""
        if self.backend not in BACKEND_NAMES:
            raise L1ForgeError(f"unknown backend {self.backend!r}; available: {', '.join(BACKEND_NAMES)}")
        if self.hls_tool not in ("Vitis", "Vivado"):
            raise L1ForgeError(f"--hls-tool must be Vitis or Vivado, got {self.hls_tool!r}")
        if self.reuse_factor < 1:
            raise L1ForgeError(f"--reuse-factor must be >= 1, got {self.reuse_factor}")
        for name, value in (("--tool-time-limit", self.tool_time_limit_s), ("--memory-limit-gb", self.memory_limit_gb)):
            if value is not None and not value > 0:
                raise L1ForgeError(f"{name} must be positive, got {value}")
        if not self.clock_ns > 0 or not self.latency_budget_ns > 0:
            raise L1ForgeError(f"--clock-ns and --latency-budget-ns must be positive, got {self.clock_ns} and "
                               f"{self.latency_budget_ns}")


Log = Callable[[str], None]


class Backend(ABC):
    """One firmware target. `build` writes the project and returns it with the report's
    backend-specific fields; `simulator` gives the cycle- or bit-accurate model of the firmware
    that co-simulation runs; `measure` adds the latency and resources of the verified build."""
    name: str

    def check_options(self, options: CompileOptions) -> None:
        """Refuse options this backend cannot honour (one line, naming the option)."""

    supports_noise_source = False  # whether build takes an on-chip noise source

    @abstractmethod
    def build(self, model, folder: Path, options: CompileOptions, timings: dict, log: Log,
              noise=None) -> tuple[object, dict]:
        """Write the project for the canonical `model` under `folder`: (project, report fields).
        `noise` (a compiler.ir.noise.NoiseSpec, only where supports_noise_source) draws the noise
        columns of the model's input on chip: the firmware's input is then the other columns."""

    @abstractmethod
    def simulator(self, project, model, timings: dict, log: Log, time_limit_s: float | None = None):
        """A built simulator of the project (what hw.sim.cosim.cosimulate drives); its external tool
        runs stop at time_limit_s seconds each (None: hw.tools' default)."""

    def measure(self, project, simulator, report: dict, options: CompileOptions, timings: dict, log: Log) -> None:
        """Latency and resources after verification (simulator is None when unverified)."""

    @abstractmethod
    def reopen(self, folder: Path):
        """The project of an existing compile folder (`folder` holds report.json), opened with the
        tool's own API, as `simulator` takes it; L1ForgeError naming what is missing."""

    def relocate(self, project, final_folder: Path) -> None:
        """The project was built in a staging folder and will be renamed to `final_folder`: fix
        what names the staging folder, so the output reopens in its own ecosystem."""
