"""Parsers for AMD/Xilinx vendor reports into l1forge's report schema.

Four report kinds: Vivado/Vitis HLS C-synthesis (`<top>_csynth.xml` or `.rpt`), Vivado
`report_utilization` (hls4ml's `vivado_synth.rpt`), Vivado `report_timing_summary`, and the search
for them in an hls4ml project folder. Every parser returns plain JSON-serialisable dicts; each figure
block carries a "source" (`vivado_hls`, `vitis_hls` or `vivado`). BRAM is counted in 36 Kb blocks
everywhere (an HLS BRAM_18K is half a block; the raw count is kept as "BRAM18").

Format notes (Vivado HLS 2020.1, Vivado 2020.1): the top csynth XML has no per-instance figures,
only the `.rpt` text has the instance table, so the layers come from the sibling `.rpt`; per-module
latency comes from the sibling `<module>_csynth.xml`. Vivado prints the device without the dash
between part and package (`xcvu13pflga2577-2`); it is returned as printed.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from compiler.errors import L1ForgeError

HLS_RESOURCE_COLUMNS = {"BRAM_18K": "BRAM18", "DSP48E": "DSP", "DSP": "DSP", "FF": "FF", "LUT": "LUT", "URAM": "URAM"}
_STAGES = (("route", "post-route"), ("place", "post-place"), ("synth", "post-synthesis"))


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------

def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise L1ForgeError(f"{path}: {what} not found")
    return path.read_text(errors="replace")


def _number(cell: str, path: Path, what: str):
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


def _box_tables(lines: list[str]) -> list[list[list[list[str]]]]:
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


def _columns(table) -> list[str]:
    """The column names: the last header row (HLS latency tables have two header rows)."""
    return table[0][-1]


def _header_has(table, *names: str) -> bool:
    cells = {c for row in table[0] for c in row}
    return all(n in cells for n in names)


def _stage(state: str | None, name: str) -> str:
    """post-synthesis / post-place / post-route, from Vivado's "Design State" or the file name."""
    for text in (state or "", name):
        for key, kind in _STAGES:
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


# ---------------------------------------------------------------------------------------------
# HLS C-synthesis
# ---------------------------------------------------------------------------------------------

def _hls_resources(counts: dict[str, int], tool: str) -> dict:
    bram18 = counts.get("BRAM18") or 0
    return {"LUT": counts.get("LUT") or 0, "FF": counts.get("FF") or 0, "DSP": counts.get("DSP") or 0,
            "BRAM": bram18 / 2, "BRAM18": bram18, "URAM": counts.get("URAM") or 0,
            "source": tool, "kind": "hls-estimate"}


def _latency_block(worst, best, ii, clock_ns: float, tool: str, pipeline: str | None = None) -> dict:
    block = {"cycles": worst, "cycles_min": best,
             "ns": None if worst is None else round(worst * clock_ns, 6), "ii": ii, "source": tool}
    if pipeline:
        block["pipeline"] = pipeline
    return block


def _xml_root(path: Path) -> ET.Element:
    if not path.is_file():
        raise L1ForgeError(f"{path}: HLS report not found")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise L1ForgeError(f"{path}: not a readable csynth XML ({e})") from None


def _xml_text(root: ET.Element, path: Path, where: str) -> str:
    node = root.find(where)
    if node is None or node.text is None:
        raise L1ForgeError(f"{path}: no <{where.rsplit('/', 1)[-1]}> in the csynth XML")
    return node.text.strip()


def _xml_latency(root: ET.Element, path: Path):
    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    worst = _number(_xml_text(root, path, lat + "Worst-caseLatency"), path, "Worst-caseLatency")
    best = _number(_xml_text(root, path, lat + "Best-caseLatency"), path, "Best-caseLatency")
    ii = _number(_xml_text(root, path, lat + "Interval-max"), path, "Interval-max")
    return worst, best, ii


def _hls_tool_from_banner(text: str) -> str | None:
    m = re.search(r"==\s*(Vivado|Vitis) HLS Report for", text[:4000])
    return None if m is None else ("vivado_hls" if m.group(1) == "Vivado" else "vitis_hls")


def _hls_tool_from_xml(root: ET.Element, version: str | None) -> str:
    """Vivado HLS ended at 2020.1 and calls DSPs DSP48E; Vitis HLS calls them DSP."""
    if root.find("AreaEstimates/Resources/DSP") is not None:
        return "vitis_hls"
    if version and tuple(int(x) for x in re.findall(r"\d+", version)[:2]) > (2020, 1):
        return "vitis_hls"
    return "vivado_hls"


def _parse_csynth_xml(path: Path) -> dict:
    root = _xml_root(path)
    if root.tag != "profile" or root.find("UserAssignments") is None:
        raise L1ForgeError(f"{path}: not a csynth XML (no <profile>/<UserAssignments>)")
    version = root.findtext("ReportVersion/Version")
    top = _xml_text(root, path, "UserAssignments/TopModelName")
    rpt = path.with_name(f"{top}_csynth.rpt")
    banner = None
    if rpt.is_file():
        with open(rpt, errors="replace") as f:
            banner = _hls_tool_from_banner(f.read(4000))
    tool = banner or _hls_tool_from_xml(root, version)
    clock = float(_xml_text(root, path, "UserAssignments/TargetClockPeriod"))
    counts = {}
    res = root.find("AreaEstimates/Resources")
    if res is None:
        raise L1ForgeError(f"{path}: no <AreaEstimates>/<Resources> in the csynth XML")
    for child in res:
        if child.tag in HLS_RESOURCE_COLUMNS:
            counts[HLS_RESOURCE_COLUMNS[child.tag]] = _number(child.text or "", path, child.tag)
    if "LUT" not in counts or "FF" not in counts:
        raise L1ForgeError(f"{path}: no <LUT>/<FF> in <AreaEstimates>/<Resources>")
    worst, best, ii = _xml_latency(root, path)
    uncertainty = root.findtext("UserAssignments/ClockUncertainty")
    return {
        "tool": tool, "version": version, "top": top,
        "part": _xml_text(root, path, "UserAssignments/Part"),
        "clock_ns": clock,
        "clock_uncertainty_ns": None if uncertainty is None else float(uncertainty),
        "estimated_clock_ns": float(_xml_text(root, path, "PerformanceEstimates/SummaryOfTimingAnalysis/"
                                                          "EstimatedClockPeriod")),
        "latency": _latency_block(worst, best, ii, clock, tool, root.findtext("PerformanceEstimates/PipelineType")),
        "resources": _hls_resources(counts, tool),
        "source": tool, "report": str(path),
    }


def _rpt_sections(text: str) -> dict[str, list[str]]:
    """The `== Title` sections of an HLS .rpt, each as its lines."""
    sections, title, lines = {}, "header", []
    for line in text.splitlines():
        m = re.match(r"==\s+(.*\S)\s*$", line)
        if m and not line.startswith("==="):
            sections[title] = lines
            title, lines = m.group(1), []
        else:
            lines.append(line)
    sections[title] = lines
    return sections


def _rpt_latency_row(cells: list[str], path: Path) -> tuple:
    """(min, max, ii max, pipeline type) from the 7 figure cells of an HLS latency row."""
    if len(cells) < 7:
        raise L1ForgeError(f"{path}: latency row has {len(cells)} cells, expected 7: {'|'.join(cells)}")
    best = _number(cells[0], path, "latency min")
    worst = _number(cells[1], path, "latency max")
    ii = _number(cells[5], path, "interval max")
    return best, worst, ii, cells[6] or None


def _parse_csynth_rpt(path: Path) -> dict:
    """Summary, per-category breakdown and instance tables of an HLS `<top>_csynth.rpt`."""
    text = _read(path, "HLS report")
    tool = _hls_tool_from_banner(text)
    if tool is None:
        raise L1ForgeError(f"{path}: no '== Vivado HLS Report for' / '== Vitis HLS Report for' banner")
    top = re.search(r"HLS Report for '([^']+)'", text).group(1)
    sections = _rpt_sections(text)
    header = text[:4000]
    version = re.search(r"\*\s*Version:\s*(\S+)", header)
    part = re.search(r"\*\s*Target device:\s*(\S+)", header)
    if part is None:
        raise L1ForgeError(f"{path}: no '* Target device:' line in the report header")
    perf = sections.get("Performance Estimates")
    util = sections.get("Utilization Estimates")
    if perf is None or util is None:
        missing = "Performance Estimates" if perf is None else "Utilization Estimates"
        raise L1ForgeError(f"{path}: no '== {missing}' section")
    perf_tables, util_tables = _box_tables(perf), _box_tables(util)

    timing = next((t for t in perf_tables if _header_has(t, "Clock", "Target", "Estimated")), None)
    if timing is None or len(timing) < 2:
        raise L1ForgeError(f"{path}: no 'Clock | Target | Estimated' timing table")
    clock_row = timing[1][0]
    figures = [float(re.match(r"[\d.]+", c).group()) for c in clock_row[1:4] if re.match(r"[\d.]+", c)]
    if len(figures) < 2:
        raise L1ForgeError(f"{path}: timing row {'|'.join(clock_row)!r} has no target/estimated clock")
    clock, estimated = figures[0], figures[1]
    uncertainty = figures[2] if len(figures) > 2 else None

    summary = next((t for t in perf_tables
                    if _header_has(t, "Latency (cycles)") and not _header_has(t, "Instance")), None)
    if summary is None or len(summary) < 2:
        raise L1ForgeError(f"{path}: no latency summary table ('Latency (cycles)')")
    best, worst, ii, pipeline = _rpt_latency_row(summary[1][0], path)

    usage = next((t for t in util_tables if _header_has(t, "Name", "FF", "LUT") and not _header_has(t, "Depth")), None)
    if usage is None:
        raise L1ForgeError(f"{path}: no utilization summary table ('Name | BRAM_18K | ... | LUT')")
    cols = _columns(usage)
    rows = {r[0]: r for block in usage[1:] for r in block}
    if "Total" not in rows:
        raise L1ForgeError(f"{path}: no 'Total' row in the utilization summary table")

    def counts_of(row, columns):
        if len(row) < len(columns):
            raise L1ForgeError(f"{path}: row {row[0]!r} has {len(row)} cells, expected {len(columns)} "
                               "(truncated report?)")
        return {HLS_RESOURCE_COLUMNS[c]: _number(row[i], path, f"{row[0]} {c}")
                for i, c in enumerate(columns) if c in HLS_RESOURCE_COLUMNS}

    breakdown = {name: _hls_resources(counts_of(r, cols), tool) for name, r in rows.items()
                 if name in ("DSP", "Expression", "FIFO", "Instance", "Memory", "Multiplexer", "Register")}

    instances = []
    inst_util = next((t for t in util_tables if _header_has(t, "Instance", "Module")), None)
    if inst_util is not None and len(inst_util) > 1:
        icols = _columns(inst_util)
        if icols[:2] != ["Instance", "Module"]:
            raise L1ForgeError(f"{path}: instance table starts with {icols[:2]}, expected Instance | Module")
        for row in inst_util[1]:
            instances.append({"name": row[0], "module": row[1],
                              "resources": _hls_resources(counts_of(row, icols), tool)})
    inst_lat = next((t for t in perf_tables if _header_has(t, "Instance", "Module", "Latency (cycles)")), None)
    lat_rows = {r[0]: r for r in inst_lat[1]} if inst_lat is not None and len(inst_lat) > 1 else {}
    return {
        "tool": tool, "version": version.group(1) if version else None, "top": top, "part": part.group(1),
        "clock_ns": clock, "clock_uncertainty_ns": uncertainty, "estimated_clock_ns": estimated,
        "latency": _latency_block(worst, best, ii, clock, tool, pipeline),
        "resources": _hls_resources(counts_of(rows["Total"], cols), tool),
        "breakdown": breakdown, "source": tool, "report": str(path),
        "_instances": instances, "_instance_latency": lat_rows,
    }


def _layers(folder: Path, rpt: dict, clock: float, tool: str, path: Path) -> list[dict]:
    """The top's instances with their resources (rpt) and latency (module XML, else the rpt row)."""
    layers = []
    for inst in rpt["_instances"]:
        layer = {"name": inst["name"], "module": inst["module"]}
        module_xml = folder / f"{inst['module']}_csynth.xml"
        if module_xml.is_file():
            worst, best, ii = _xml_latency(_xml_root(module_xml), module_xml)
            layer["latency"] = _latency_block(worst, best, ii, clock, tool)
        elif inst["name"] in rpt["_instance_latency"]:
            best, worst, ii, _ = _rpt_latency_row(rpt["_instance_latency"][inst["name"]][2:], path)
            layer["latency"] = _latency_block(worst, best, ii, clock, tool)
        layer["resources"] = inst["resources"]
        layers.append(layer)
    return layers


def parse_csynth(path: str | os.PathLike) -> dict:
    """Parse an HLS C-synthesis report (`<top>_csynth.xml`, `csynth.xml` or `<top>_csynth.rpt`).

    Returns {"tool", "version", "top", "part", "clock_ns", "clock_uncertainty_ns",
    "estimated_clock_ns", "latency", "resources", "layers", "source", "report"}, plus "breakdown"
    (the summary's Instance/FIFO/Expression/... rows) when the .rpt is there. The layers are the
    top's instances in the report's order: resources from the .rpt instance table (the XML has
    none; without the .rpt "layers" is []), latency from `<module>_csynth.xml` (else the .rpt row).
    An XML whose sibling .rpt gives other totals is refused as stale.
    """
    path = Path(path)
    if path.suffix == ".rpt":
        rpt = _parse_csynth_rpt(path)
        report = {k: v for k, v in rpt.items() if not k.startswith("_")}
    else:
        report = _parse_csynth_xml(path)
        rpt_path = path.with_name(f"{report['top']}_csynth.rpt")
        rpt = _parse_csynth_rpt(rpt_path) if rpt_path.is_file() else None
        if rpt is not None:
            for key in ("LUT", "FF", "DSP", "BRAM18"):
                if rpt["resources"][key] != report["resources"][key]:
                    raise L1ForgeError(f"{rpt_path}: total {key} {rpt['resources'][key]} differs from "
                                       f"{report['resources'][key]} in {path.name} (stale report?)")
            report["breakdown"] = rpt["breakdown"]
    report["layers"] = [] if rpt is None else _layers(path.parent, rpt, report["clock_ns"], report["tool"], path)
    return report


# ---------------------------------------------------------------------------------------------
# Vivado report_utilization / report_timing_summary
# ---------------------------------------------------------------------------------------------

def _site_table(text: str, path: Path) -> tuple[dict, dict]:
    """(Site Type -> Used, Ref Name -> Used) from the first occurrence of each row."""
    used, prims = {}, {}
    for table in _box_tables(text.splitlines()):
        cols = _columns(table)
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
                    target[label] = _number(row[at], path, f"{label!r} Used")
    return used, prims


def parse_vivado_utilization(path: str | os.PathLike) -> dict:
    """Parse a flat Vivado `report_utilization` text report (UltraScale "CLB" or 7-series "Slice").

    Returns {"LUT", "FF", "DSP", "BRAM" (36 Kb tiles), "URAM", "CARRY" (CARRY8 + CARRY4 cells),
    "LUTRAM" (when listed), "part" (as Vivado prints it), "design", "version", "source": "vivado",
    "kind": post-synthesis | post-place | post-route}.
    """
    path = Path(path)
    text = _read(path, "Vivado utilization report")
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
    text = _read(path, "Vivado timing summary")
    lines = text.splitlines()
    body = _section(lines, "Design Timing Summary")
    if body is None:
        raise L1ForgeError(f"{path}: no 'Design Timing Summary' table")
    table = _dashed_table(body)
    if table is None or not table[1] or "WNS(ns)" not in table[0]:
        raise L1ForgeError(f"{path}: no 'WNS(ns)' row under 'Design Timing Summary'")
    names, rows = table
    values = dict(zip(names, rows[0]))
    wns = _number(values.get("WNS(ns)", "NA"), path, "WNS(ns)")
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
                slacks = {r[0]: _number(r[at], path, "WNS(ns)") for r in intra[1] if at is not None and len(r) > at}
                worst = next((c for c, s in slacks.items() if s == wns and c in clocks), None)
            if worst is None:
                found = ", ".join(clocks) or "none"
                raise L1ForgeError(f"{path}: cannot tell which clock the WNS belongs to (clocks: {found}); "
                                   "pass clock_ns")
            clock, clock_ns = worst, clocks[worst]
    head = _vivado_header(text)
    return {"wns_ns": wns, "tns_ns": _number(values.get("TNS(ns)", "NA"), path, "TNS(ns)"),
            "whs_ns": _number(values.get("WHS(ns)", "NA"), path, "WHS(ns)"),
            "failing_endpoints": _number(values.get("TNS Failing Endpoints", "NA"), path, "TNS Failing Endpoints"),
            "met": wns >= 0, "clock": clock, "clock_ns": float(clock_ns),
            "achieved_clock_ns": round(float(clock_ns) - wns, 6), "part": head.get("Device"),
            "source": "vivado", "kind": _stage(head.get("Design State"), path.name)}


# ---------------------------------------------------------------------------------------------
# finding the reports
# ---------------------------------------------------------------------------------------------

def _stage_rank(p: Path) -> tuple:
    """Most final first: routed, placed, synthesized, anything else; then the shallowest path."""
    name = p.name.lower()
    rank = next((i for i, (key, _) in enumerate(_STAGES) if key in name), len(_STAGES))
    return rank, len(p.parts), str(p)


def _top_name(path: Path) -> str | None:
    """The HLS top from csynth.xml's <TopModelName> or hls4ml_config.yml's ProjectName."""
    if not path.is_file():
        return None
    m = re.search(r"<TopModelName>([^<]+)</TopModelName>|^ProjectName:\s*(\S+)", path.read_text(errors="replace"), re.M)
    return None if m is None else (m.group(1) or m.group(2)).strip()


def find_vendor_reports(project_dir: str | os.PathLike, top: str | None = None) -> dict[str, Path]:
    """Locate the vendor reports under an hls4ml project folder.

    Returns {"csynth": <top>_csynth.xml, "csynth_rpt": <top>_csynth.rpt, "utilization": Vivado
    utilization report, "timing": timing summary}, each key present only when found. Among several
    utilization or timing reports the most final one (routed > placed > synth) wins. `top` picks the
    HLS top when the folder holds more than one.
    """
    root = Path(project_dir)
    if not root.is_dir():
        raise L1ForgeError(f"{root}: project folder not found")
    report_dirs, utilization, timing = [], [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        if here.parts[-2:] == ("syn", "report"):
            report_dirs.append(here)
        for f in filenames:
            low = f.lower()
            if not low.endswith(".rpt"):
                continue
            if f == "vivado_synth.rpt" or "utilization" in low:
                utilization.append(here / f)
            elif "timing" in low and "path" not in low:
                timing.append(here / f)
    found: dict[str, Path] = {}
    tops = []
    for d in report_dirs:
        name = top or _top_name(d / "csynth.xml") or _top_name(root / "hls4ml_config.yml")
        if name is None:
            continue
        xml, rpt = d / f"{name}_csynth.xml", d / f"{name}_csynth.rpt"
        if not xml.is_file() and top is None:
            xml = d / "csynth.xml"
        pair = (xml if xml.is_file() else None, rpt if rpt.is_file() else None)
        if pair != (None, None):
            tops.append(pair)
    if len(tops) > 1:
        listed = ", ".join(str((x or r).parent.relative_to(root)) for x, r in tops)
        raise L1ForgeError(f"{root}: several HLS report folders ({listed}); pass top= or a narrower folder")
    if tops:
        xml, rpt = tops[0]
        if xml is not None:
            found["csynth"] = xml
        if rpt is not None:
            found["csynth_rpt"] = rpt
    if utilization:
        found["utilization"] = min(utilization, key=_stage_rank)
    if timing:
        found["timing"] = min(timing, key=_stage_rank)
    return found
