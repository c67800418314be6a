"""Parsers for AMD/Xilinx vendor reports, one module per tool (hls: HLS C-synthesis; vivado:
utilization and timing; search: finding them; tables: the text tables they share), into l1forge's report schema.

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
from .hls import parse_csynth
from .search import find_vendor_reports
from .vivado import parse_vivado_timing, parse_vivado_utilization

__all__ = ["find_vendor_reports", "parse_csynth", "parse_vivado_timing", "parse_vivado_utilization"]
