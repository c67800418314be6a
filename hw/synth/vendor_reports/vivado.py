"""Vivado `report_utilization` (hls4ml's `vivado_synth.rpt`) and `report_timing_summary` into
l1forge's report schema. Vivado prints the device without the dash between part and package
(`xcvu13pflga2577-2`); it is returned as printed."""
from __future__ import annotations

import os
import re
from pathlib import Path

from l1forge.compiler.errors import L1ForgeError

from .tables import STAGES, box_tables, columns, number, read_report


def _stage(state: str | None, name: str) -> str:
    """post-synthesis / post-place / post-route, from Vivado's "Design State" or the file name."""
    for text in (state or "", name):
        for key, kind in STAGES:
            if key in text.lower():
                return kind
    return "unknown"


def _vivado_header(text: str) -> dict[str, str]:
    """The `| Key : value` lines of a Vivado report's title box."""
    head = {}
    for line in text.splitlines()[:30]:
        m = re.match(r"\|\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$", line)
        if m:
            head[m.group(1)] = m.group(2).strip()
    return head


def _vivado_version(head: dict[str, str]) -> str | None:
    m = re.search(r"v\.?(\d{4}\.\d+(?:\.\d+)?)", head.get("Tool Version", ""))
    return m.group(1) if m else None


def _site_table(text: str, path: Path) -> tuple[dict, dict]:
    """(Site Type -> Used, Ref Name -> Used) from the first occurrence of each row."""
    used, prims = {}, {}
    for table in box_tables(text.splitlines()):
        cols = columns(table)
        if "Used" not in cols:
            continue
        at = cols.index("Used")
        target = used if cols[0] == "Site Type" else prims if cols[0] == "Ref Name" else None
        if target is None:
            continue
        for block in table[1:]:
            for row in block:
                label = row[0].rstrip("*").strip()
                if label and label not in target and at < len(row):
                    target[label] = number(row[at], path, f"{label!r} Used")
    return used, prims


def parse_vivado_utilization(path: str | os.PathLike) -> dict:
    """Parse a flat Vivado `report_utilization` text report (UltraScale "CLB" or 7-series "Slice").

    Returns {"LUT", "FF", "DSP", "BRAM" (36 Kb tiles), "URAM", "CARRY" (CARRY8 + CARRY4 cells),
    "LUTRAM" (when listed), "part" (as Vivado prints it), "design", "version", "source": "vivado",
    "kind": post-synthesis | post-place | post-route}.
    """
    path = Path(path)
    text = read_report(path, "Vivado utilization report")
    head = _vivado_header(text)
    used, prims = _site_table(text, path)

    def row(*names: str, required: bool = True):
        for n in names:
            if n in used:
                return used[n]
        if required:
            raise L1ForgeError(f"{path}: no '{names[0]}' row in the utilization table")
        return None

    lut = row("CLB LUTs", "Slice LUTs")
    ff = row("CLB Registers", "Slice Registers")
    bram = row("Block RAM Tile")
    dsp = row("DSPs")
    carry_cells = [prims[c] for c in ("CARRY8", "CARRY4") if c in prims]
    carry = sum(carry_cells) if carry_cells else row("CARRY8", "CARRY4")
    if "Device" not in head:
        raise L1ForgeError(f"{path}: no '| Device :' line in the report header")
    report = {"LUT": lut, "FF": ff, "DSP": dsp, "BRAM": float(bram), "URAM": row("URAM", required=False) or 0,
              "CARRY": carry}
    lutram = row("LUT as Memory", required=False)
    if lutram is not None:
        report["LUTRAM"] = lutram
    report.update({"part": head["Device"], "design": head.get("Design"), "version": _vivado_version(head),
                   "source": "vivado", "kind": _stage(head.get("Design State"), path.name)})
    return report


def _clock_summary(lines: list[str]) -> dict[str, float]:
    """Clock name -> period (ns) from the "Clock Summary" table (generated clocks are indented)."""
    clocks = {}
    for line in lines:
        m = re.match(r"\s*(\S+)\s+\{[^}]*\}\s+([\d.]+)\s+([\d.]+)\s*$", line)
        if m:
            clocks[m.group(1)] = float(m.group(2))
    return clocks


def _section(lines: list[str], title: str) -> list[str] | None:
    """The lines of a `| Title` block of report_timing_summary, up to the next `| ...` title."""
    start = next((i for i, l in enumerate(lines) if l.strip() == f"| {title}"), None)
    if start is None:
        return None
    body = []
    for line in lines[start + 1:]:
        s = line.strip()
        if s.startswith("| ") and not s.startswith("| -"):
            break
        body.append(line)
    return body


def _dashed_table(body: list[str]) -> tuple[list[str], list[list[str]]] | None:
    """(column names, rows) of a whitespace table whose header is underlined with dashes."""
    for i in range(1, len(body)):
        rule = body[i]
        if rule.strip() and set(rule.strip()) <= {"-", " "} and " " in rule.strip():
            names = [body[i - 1][m.start():m.end()].strip() for m in re.finditer(r"-+", rule)]
            rows = []
            for line in body[i + 1:]:
                if not line.strip():
                    if rows:
                        break
                    continue
                rows.append(line.split())
            return names, rows
    return None


def parse_vivado_timing(path: str | os.PathLike, clock_ns: float | None = None) -> dict:
    """Parse a Vivado `report_timing_summary` text report.

    Returns {"wns_ns", "tns_ns", "whs_ns", "failing_endpoints", "met", "clock", "clock_ns",
    "achieved_clock_ns" (= clock period - WNS), "part", "source": "vivado", "kind"}. The clock is
    `clock_ns` when given, else the only clock of the "Clock Summary", else the clock with the worst
    slack in the "Intra Clock Table".
    """
    path = Path(path)
    text = read_report(path, "Vivado timing summary")
    lines = text.splitlines()
    body = _section(lines, "Design Timing Summary")
    if body is None:
        raise L1ForgeError(f"{path}: no 'Design Timing Summary' table")
    table = _dashed_table(body)
    if table is None or not table[1] or "WNS(ns)" not in table[0]:
        raise L1ForgeError(f"{path}: no 'WNS(ns)' row under 'Design Timing Summary'")
    names, rows = table
    values = dict(zip(names, rows[0]))
    wns = number(values.get("WNS(ns)", "NA"), path, "WNS(ns)")
    if wns is None:
        raise L1ForgeError(f"{path}: WNS is NA (no timing constraints were applied)")
    clock = None
    if clock_ns is None:
        clocks = _clock_summary(_section(lines, "Clock Summary") or [])
        if len(clocks) == 1:
            clock, clock_ns = next(iter(clocks.items()))
        else:
            intra = _dashed_table(_section(lines, "Intra Clock Table") or [])
            worst = None
            if intra and clocks:
                at = intra[0].index("WNS(ns)") if "WNS(ns)" in intra[0] else None
                slacks = {r[0]: number(r[at], path, "WNS(ns)") for r in intra[1] if at is not None and len(r) > at}
                worst = next((c for c, s in slacks.items() if s == wns and c in clocks), None)
            if worst is None:
                found = ", ".join(clocks) or "none"
                raise L1ForgeError(f"{path}: cannot tell which clock the WNS belongs to (clocks: {found}); "
                                   "pass clock_ns")
            clock, clock_ns = worst, clocks[worst]
    head = _vivado_header(text)
    return {"wns_ns": wns, "tns_ns": number(values.get("TNS(ns)", "NA"), path, "TNS(ns)"),
            "whs_ns": number(values.get("WHS(ns)", "NA"), path, "WHS(ns)"),
            "failing_endpoints": number(values.get("TNS Failing Endpoints", "NA"), path, "TNS Failing Endpoints"),
            "met": wns >= 0, "clock": clock, "clock_ns": float(clock_ns),
            "achieved_clock_ns": round(float(clock_ns) - wns, 6), "part": head.get("Device"),
            "source": "vivado", "kind": _stage(head.get("Design State"), path.name)}
