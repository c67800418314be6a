"""yosys synthesis for Xilinx UltraScale+ (`synth_xilinx -family xcup`) and its cell counts.

Counts are yosys' technology mapping, not Vivado's: yosys 0.23 maps carries to CARRY4 (Vivado
uses CARRY8 on UltraScale+), keeps inverters as separate cells (Vivado absorbs them into LUTs)
and does not place, route or optimize across registers the way Vivado does.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from compiler.errors import L1ForgeError

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


def synthesize(verilog_files: list[Path], top: str, workdir: Path) -> tuple[YosysResources, float]:
    """Run yosys synth_xilinx (UltraScale+) on the files; (resources, seconds)."""
    exe = shutil.which("yosys")
    if exe is None:
        raise L1ForgeError("yosys not found on PATH: run `make setup` (installs Debian's yosys) or "
                           "`sudo apt-get install yosys`")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "synth.ys"
    files = " ".join(str(Path(f).resolve()) for f in verilog_files)
    script.write_text(f"read_verilog -defer {files}\n"
                      f"hierarchy -top {top}\n"
                      "setattr -unset rom_style m:*\n"  # 0.23 cannot map distributed ROMs of large tables
                      f"synth_xilinx -family xcup -flatten -noiopad -top {top}\n"
                      "tee -q -o stat.json stat -json\n")
    start = time.perf_counter()
    res = subprocess.run([exe, "-q", "-l", "yosys.log", "-s", script.name], cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-2:]
        raise L1ForgeError(f"yosys failed (log: {workdir / 'yosys.log'}): {' | '.join(tail)}")
    return resources_from_stat(json.loads((workdir / "stat.json").read_text()), top), seconds
