"""yosys synthesis for Xilinx UltraScale+ (`synth_xilinx -family xcup`) and its cell counts.

Counts are yosys' technology mapping, not Vivado's: yosys 0.23 maps carries to CARRY4 (Vivado
uses CARRY8 on UltraScale+), keeps inverters as separate cells (Vivado absorbs them into LUTs)
and does not place, route or optimize across registers the way Vivado does.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from l1forge.compiler.errors import L1ForgeError
from l1forge.hw.tools import run_tool

LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6")
SRL_CELLS = ("SRL16E", "SRLC32E")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")
CARRY_CELLS = ("CARRY4", "CARRY8")
MUXF_CELLS = ("MUXF7", "MUXF8", "MUXF9")
DSP_CELLS = ("DSP48E1", "DSP48E2")


@dataclass
class YosysResources:
    """Cells after synth_xilinx. LUT counts logic LUTs plus shift-register LUTs (SRL), as
    Vivado's "CLB LUTs" does; BRAM is in 36 Kb blocks (a RAMB18 is half)."""
    LUT: int
    SRL: int
    FF: int
    CARRY: int
    MUXF: int
    DSP: int
    BRAM: float
    cells: dict[str, int]

    def to_dict(self) -> dict:
        return asdict(self)


def resources_from_stat(stat: dict, top: str) -> YosysResources:
    """Parse `stat -json` output (yosys 0.23: modules -> \\top -> num_cells_by_type)."""
    modules = stat.get("modules", {})
    module = modules.get("\\" + top) or modules.get(top)
    if module is None:
        raise L1ForgeError(f"yosys statistics have no module {top!r} (found: {', '.join(modules) or 'none'})")
    cells = {k: int(v) for k, v in module.get("num_cells_by_type", {}).items()}

    def count(names):
        return sum(cells.get(n, 0) for n in names)

    srl = count(SRL_CELLS)
    bram = cells.get("RAMB36E2", 0) + cells.get("RAMB36E1", 0) + 0.5 * (cells.get("RAMB18E2", 0) + cells.get("RAMB18E1", 0))
    return YosysResources(LUT=count(LUT_CELLS) + srl, SRL=srl, FF=count(FF_CELLS), CARRY=count(CARRY_CELLS),
                          MUXF=count(MUXF_CELLS), DSP=count(DSP_CELLS), BRAM=bram, cells=cells)


def _yosys() -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise L1ForgeError("yosys not found on PATH: run `make setup` (installs Debian's yosys) or "
                           "`sudo apt-get install yosys`")
    return exe


def _run_script(reads: str, top: str, workdir: Path, data_files=(), time_limit_s=None) -> YosysResources:
    """One yosys run: read, synth_xilinx (UltraScale+, flattened) of `top`, `stat -json` parsed.
    data_files (ROM contents read by $readmemh, by bare name) are copied into the run's folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    for f in data_files:
        shutil.copyfile(f, workdir / Path(f).name)
    (workdir / "synth.ys").write_text(f"{reads}"
                                      f"hierarchy -top {top}\n"
                                      "setattr -unset rom_style m:*\n"  # 0.23 cannot map distributed ROMs of large tables
                                      f"synth_xilinx -family xcup -flatten -noiopad -top {top}\n"
                                      "tee -q -o stat.json stat -json\n")
    res = run_tool([_yosys(), "-q", "-l", "yosys.log", "-s", "synth.ys"], f"yosys ({top})", time_limit_s, cwd=workdir)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-2:]
        raise L1ForgeError(f"yosys failed (log: {workdir / 'yosys.log'}): {' | '.join(tail)}")
    return resources_from_stat(json.loads((workdir / "stat.json").read_text()), top)


def _paths(files) -> str:
    return " ".join(str(Path(f).resolve()) for f in files)


def synthesize(verilog_files: list[Path], top: str, workdir: Path, data_files=(),
               time_limit_s: float | None = None) -> tuple[YosysResources, float]:
    """Run yosys synth_xilinx (UltraScale+) on the whole design, flattened; (resources, seconds)."""
    start = time.perf_counter()
    res = _run_script(f"read_verilog -defer {_paths(verilog_files)}\n", top, Path(workdir), data_files, time_limit_s)
    return res, time.perf_counter() - start


def synthesize_by_module(verilog_files: list[Path], top: str, parts: list[str], workdir: Path,
                         jobs: int = 2, progress=None, data_files=(),
                         time_limit_s: float | None = None) -> tuple[YosysResources, float]:
    """Synthesize each module in `parts` on its own (in up to `jobs` parallel yosys runs), then `top`
    with those modules as black boxes, and add the counts; (resources, seconds).

    For a pipeline whose parts are the combinational stages between registers this is what an
    out-of-context flow does: far less memory and time than one flat run of a 200k+ LUT design, at
    the price of no optimization across part boundaries (a register fed a constant is kept).
    """
    workdir = Path(workdir)
    part_files = {m: [f for f in verilog_files if Path(f).stem == m] for m in parts}
    missing = [m for m, f in part_files.items() if len(f) != 1]
    if missing:
        raise L1ForgeError(f"synthesis by module: no file named <module>.v for {', '.join(missing)}")
    others = [f for f in verilog_files if Path(f).stem not in part_files]
    lib = " ".join(_paths(f) for f in part_files.values())
    jobs = max(1, min(jobs, os.cpu_count() or 1, len(parts)))  # each run can take several GB
    start = time.perf_counter()

    def run(name: str) -> YosysResources:
        if name == top:
            return _run_script(f"read_verilog -lib {lib}\nread_verilog -defer {_paths(others)}\n", top,
                               workdir / top, data_files, time_limit_s)
        return _run_script(f"read_verilog -defer {_paths(verilog_files)}\n", name, workdir / name, data_files,
                           time_limit_s)

    results = []
    with ThreadPoolExecutor(jobs) as pool:
        for res in pool.map(run, [top, *parts]):
            results.append(res)
            if progress is not None:
                progress(len(results), len(parts) + 1)
    total: dict[str, int] = {}
    for res in results:
        for cell, n in res.cells.items():
            if cell not in part_files:  # the black-box instances themselves
                total[cell] = total.get(cell, 0) + n
    return resources_from_stat({"modules": {top: {"num_cells_by_type": total}}}, top), time.perf_counter() - start
