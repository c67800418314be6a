"""Reading the text tables of AMD/Xilinx reports: the `+---+` box tables, numbers with Vivado's
unknown marks, the implementation stages."""
from __future__ import annotations

from pathlib import Path

from l1forge.compiler.errors import L1ForgeError

# Implementation stages, by the word that names them in a Design State or a file name.
STAGES = (("route", "post-route"), ("place", "post-place"), ("synth", "post-synthesis"))


def read_report(path: Path, what: str) -> str:
    if not path.is_file():
        raise L1ForgeError(f"{path}: {what} not found")
    return path.read_text(errors="replace")


def number(cell: str, path: Path, what: str):
    """An int, a float, or None for Vivado's "unknown" marks; "-" (not used) is 0."""
    cell = cell.strip()
    if cell in ("-", ""):
        return 0
    if cell in ("?", "undef", "NA", "N/A"):
        return None
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        raise L1ForgeError(f"{path}: {what} is {cell!r}, not a number") from None


def box_tables(lines: list[str]) -> list[list[list[list[str]]]]:
    """Every `+---+` / `|...|` table in `lines`: a list of row blocks (split at the `+` rules),
    each a list of rows, each a list of stripped cells."""
    tables, blocks, block = [], [], []
    for line in lines + [""]:
        s = line.strip()
        if s.startswith("|"):
            block.append([c.strip() for c in s.strip("|").split("|")])
        elif s.startswith("+-") and s.endswith("+"):
            if block:
                blocks.append(block)
            block = []
        else:
            if block:
                blocks.append(block)
            if blocks:
                tables.append(blocks)
            blocks, block = [], []
    return tables


def columns(table) -> list[str]:
    """The column names: the last header row (HLS latency tables have two header rows)."""
    return table[0][-1]


def header_has(table, *names: str) -> bool:
    cells = {c for row in table[0] for c in row}
    return all(n in cells for n in names)
