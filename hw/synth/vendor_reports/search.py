"""Finding the vendor reports in an hls4ml project folder (the latest implementation stage first)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from l1forge.compiler.errors import L1ForgeError

from .tables import STAGES


def _stage_rank(p: Path) -> tuple:
    """Most final first: routed, placed, synthesized, anything else; then the shallowest path."""
    name = p.name.lower()
    rank = next((i for i, (key, _) in enumerate(STAGES) if key in name), len(STAGES))
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
