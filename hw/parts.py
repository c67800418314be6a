"""FPGA parts that trigger and fast-simulation firmware targets, with their resource totals.

Totals are the vendor's data-sheet figures (AMD/Xilinx product tables): CLB LUTs, CLB flip-flops,
DSP slices, block RAM in 36 Kb blocks and UltraRAM blocks. A part is found by its full name
(`xcvu13p-flga2577-2-e`) or by its device alone (`xcvu13p`, any package and speed grade).
"""
from __future__ import annotations

from dataclasses import dataclass

from l1forge.compiler.errors import L1ForgeError

RESOURCES = ("LUT", "FF", "DSP", "BRAM", "URAM")


@dataclass(frozen=True)
class Part:
    """One device: its default full part name, its family and its resource totals."""
    name: str
    device: str
    family: str
    use: str
    LUT: int
    FF: int
    DSP: int
    BRAM: int  # 36 Kb blocks
    URAM: int

    def totals(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in RESOURCES}


PARTS = {p.device: p for p in (
    Part("xcvu13p-flga2577-2-e", "xcvu13p", "Virtex UltraScale+", "CMS Phase-2 L1 trigger (APx/Serenity), seed paper",
         1_728_000, 3_456_000, 12_288, 2_688, 1_280),
    Part("xcvu9p-flga2104-2L-e", "xcvu9p", "Virtex UltraScale+", "CMS Phase-2 L1 trigger boards, Alveo U200/U250 class",
         1_182_240, 2_364_480, 6_840, 2_160, 960),
    Part("xcku115-flvb2104-2-e", "xcku115", "Kintex UltraScale", "hls4ml's first jet-tagging benchmarks",
         663_360, 1_326_720, 5_520, 2_160, 0),
    Part("xczu9eg-ffvb1156-2-e", "xczu9eg", "Zynq UltraScale+ MPSoC", "ZCU102 development board",
         274_080, 548_160, 2_520, 912, 0),
    Part("xc7a100tcsg324-1", "xc7a100t", "Artix-7", "small boards, detector front-ends",
         63_400, 126_800, 240, 135, 0),
    Part("xc7a200tsbg484-1", "xc7a200t", "Artix-7", "small boards, detector front-ends",
         133_800, 267_600, 740, 365, 0),
)}


def find_part(name: str) -> Part:
    """The part for a full part name or a device name; a clear error listing the known ones."""
    key = name.strip().lower()
    for device, part in PARTS.items():
        # the device name is followed by the package (xcvu13p-flga2577-2-e, xc7a100tcsg324-1)
        if key == device or (key.startswith(device) and not key[len(device)].isdigit()):
            return part
    known = ", ".join(p.name for p in PARTS.values())
    raise L1ForgeError(f"unknown FPGA part {name!r}; known parts: {known} (any package/speed grade of these "
                       "devices is accepted)")


def utilization(resources: dict, part: Part) -> dict[str, float]:
    """Percent of the part's totals used, for each resource present in `resources`."""
    out = {}
    for k in RESOURCES:
        total = getattr(part, k)
        if k in resources and resources[k] is not None and total:
            out[k] = round(100.0 * float(resources[k]) / total, 3)
    return out
