"""Vivado/Vitis HLS C-synthesis reports (`<top>_csynth.xml` or `.rpt`) into l1forge's report schema:
latency, resources (BRAM in 36 Kb blocks; the raw BRAM_18K count kept as "BRAM18") and per-layer
figures. The top csynth XML has no per-instance figures, so the layers come from the sibling
`.rpt`; per-module latency from the sibling `<module>_csynth.xml`."""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from l1forge.compiler.errors import L1ForgeError

from .tables import box_tables, columns, header_has, number, read_report

HLS_RESOURCE_COLUMNS = {"BRAM_18K": "BRAM18", "DSP48E": "DSP", "DSP": "DSP", "FF": "FF", "LUT": "LUT", "URAM": "URAM"}


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
    worst = number(_xml_text(root, path, lat + "Worst-caseLatency"), path, "Worst-caseLatency")
    best = number(_xml_text(root, path, lat + "Best-caseLatency"), path, "Best-caseLatency")
    ii = number(_xml_text(root, path, lat + "Interval-max"), path, "Interval-max")
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
            counts[HLS_RESOURCE_COLUMNS[child.tag]] = number(child.text or "", path, child.tag)
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
    best = number(cells[0], path, "latency min")
    worst = number(cells[1], path, "latency max")
    ii = number(cells[5], path, "interval max")
    return best, worst, ii, cells[6] or None


def _parse_csynth_rpt(path: Path) -> dict:
    """Summary, per-category breakdown and instance tables of an HLS `<top>_csynth.rpt`."""
    text = read_report(path, "HLS report")
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
    perf_tables, util_tables = box_tables(perf), box_tables(util)

    timing = next((t for t in perf_tables if header_has(t, "Clock", "Target", "Estimated")), None)
    if timing is None or len(timing) < 2:
        raise L1ForgeError(f"{path}: no 'Clock | Target | Estimated' timing table")
    clock_row = timing[1][0]
    figures = [float(re.match(r"[\d.]+", c).group()) for c in clock_row[1:4] if re.match(r"[\d.]+", c)]
    if len(figures) < 2:
        raise L1ForgeError(f"{path}: timing row {'|'.join(clock_row)!r} has no target/estimated clock")
    clock, estimated = figures[0], figures[1]
    uncertainty = figures[2] if len(figures) > 2 else None

    summary = next((t for t in perf_tables
                    if header_has(t, "Latency (cycles)") and not header_has(t, "Instance")), None)
    if summary is None or len(summary) < 2:
        raise L1ForgeError(f"{path}: no latency summary table ('Latency (cycles)')")
    best, worst, ii, pipeline = _rpt_latency_row(summary[1][0], path)

    usage = next((t for t in util_tables if header_has(t, "Name", "FF", "LUT") and not header_has(t, "Depth")), None)
    if usage is None:
        raise L1ForgeError(f"{path}: no utilization summary table ('Name | BRAM_18K | ... | LUT')")
    cols = columns(usage)
    rows = {r[0]: r for block in usage[1:] for r in block}
    if "Total" not in rows:
        raise L1ForgeError(f"{path}: no 'Total' row in the utilization summary table")

    def counts_of(row, columns):
        if len(row) < len(columns):
            raise L1ForgeError(f"{path}: row {row[0]!r} has {len(row)} cells, expected {len(columns)} "
                               "(truncated report?)")
        return {HLS_RESOURCE_COLUMNS[c]: number(row[i], path, f"{row[0]} {c}")
                for i, c in enumerate(columns) if c in HLS_RESOURCE_COLUMNS}

    breakdown = {name: _hls_resources(counts_of(r, cols), tool) for name, r in rows.items()
                 if name in ("DSP", "Expression", "FIFO", "Instance", "Memory", "Multiplexer", "Register")}

    instances = []
    inst_util = next((t for t in util_tables if header_has(t, "Instance", "Module")), None)
    if inst_util is not None and len(inst_util) > 1:
        icols = columns(inst_util)
        if icols[:2] != ["Instance", "Module"]:
            raise L1ForgeError(f"{path}: instance table starts with {icols[:2]}, expected Instance | Module")
        for row in inst_util[1]:
            instances.append({"name": row[0], "module": row[1],
                              "resources": _hls_resources(counts_of(row, icols), tool)})
    inst_lat = next((t for t in perf_tables if header_has(t, "Instance", "Module", "Latency (cycles)")), None)
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
