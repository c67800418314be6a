"""Vendor synthesis of an hls4ml project when the tools are installed: Vitis HLS (`vitis-run`) or
Vivado HLS (`vivado_hls`) C synthesis, then Vivado synthesis, through hls4ml's own build script;
the reports are parsed by hw.synth.vendor_reports into the report schema."""
from __future__ import annotations

import shutil
from pathlib import Path

from l1forge.compiler.errors import L1ForgeError

from .vendor_reports import find_vendor_reports, parse_csynth, parse_vivado_timing, parse_vivado_utilization

HLS_EXECUTABLES = {"Vitis": "vitis-run", "Vivado": "vivado_hls"}


def vendor_tool(hls_tool: str) -> str | None:
    """Path of the HLS tool hls4ml would run for this flavour, or None when it is not installed."""
    return shutil.which(HLS_EXECUTABLES[hls_tool])


def require_vendor_tool(hls_tool: str) -> None:
    """A one-line error unless the HLS tool for this flavour is installed."""
    if vendor_tool(hls_tool) is None:
        raise L1ForgeError(f"--synth needs {HLS_EXECUTABLES[hls_tool]} ({hls_tool} HLS) on the PATH; it was not "
                           "found (without --synth the report gives the estimator's figures)")


def run_vendor_synthesis(hls_model, hls_tool: str, project_dir: Path, clock_ns: float) -> dict:
    """C synthesis + Vivado synthesis; {latency, resources, layers, timing?} with vendor sources."""
    require_vendor_tool(hls_tool)
    try:
        hls_model.build(csim=False, synth=True, vsynth=True)
    except Exception as exc:  # hls4ml raises bare Exceptions for failed builds
        raise L1ForgeError(f"{hls_tool} HLS build failed in {project_dir}: {exc}") from None
    found = find_vendor_reports(project_dir)
    if "csynth" not in found and "csynth_rpt" not in found:
        raise L1ForgeError(f"{hls_tool} HLS ran but wrote no C-synthesis report under {project_dir}")
    hls = parse_csynth(found.get("csynth") or found["csynth_rpt"])
    result = {"latency": hls["latency"], "resources": hls["resources"], "layers": hls["layers"]}
    if "utilization" in found:
        util = parse_vivado_utilization(found["utilization"])
        result["resources"] = {k: util[k] for k in ("LUT", "FF", "DSP", "BRAM", "URAM", "CARRY", "source", "kind")
                               if k in util}
    if "timing" in found:
        result["timing"] = parse_vivado_timing(found["timing"], clock_ns=clock_ns)
    return result
