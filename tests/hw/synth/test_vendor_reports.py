"""hw.synth.vendor_reports on real Vivado HLS 2020.1 / Vivado 2020.1 reports (l1-jet-id deep sets, VU13P).

Expected figures are the headline and per-layer tables of anchors/l1-jet-id/INDEX.md. The timing
summary and 7-series utilization texts below are hand-written samples in Vivado's print format
(no real timing report exists in the anchors).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.hw.synth.vendor_reports import find_vendor_reports, parse_csynth, parse_vivado_timing, parse_vivado_utilization

from tests.samples import anchors_dir

ANCHORS = anchors_dir()


def folder(bits: int) -> Path:
    return ANCHORS / f"deepsets_{bits}bit_8const_vu13p_5ns_hls2020.1"


def report_dir(bits: int) -> Path:
    return folder(bits) / "myproject_prj" / "solution1" / "syn" / "report"


# INDEX.md headline: latency cycles, II, estimated clock, LUT, FF, DSP, BRAM18
HEADLINE = {4: (19, 2, 4.375, 518_548, 56_865, 71, 4),
            6: (19, 2, 4.375, 739_886, 75_016, 298, 4),
            8: (20, 2, 4.375, 898_212, 81_429, 619, 4)}

# INDEX.md per-layer table: module key -> (LUT, FF, DSP) per bit width
RELU = (20_747, 2_050, 0)
LAYERS = {
    4: {"config19_s": (12_732, 2, 0), "config20_s": (166_122, 17_271, 0), "config21_s": (165_714, 17_467, 0),
        "relu_config4_s": RELU, "relu_config7_s": RELU, "relu_config10_s": RELU, "config11_s": (2_315, 2_050, 0),
        "config12_s": (3_883, 290, 0), "dense_latency_0_0": (25_009, 1_343, 0), "config15_s": (2_603, 258, 0),
        "config16_0": (8_032, 439, 66), "config18_s": (750, 237, 5)},
    6: {"config19_s": (21_284, 2, 80), "config20_s": (269_978, 26_359, 0), "config21_s": (267_298, 25_711, 0),
        "relu_config4_s": RELU, "relu_config7_s": RELU, "relu_config10_s": RELU, "config11_s": (2_315, 2_050, 0),
        "config12_s": (4_075, 290, 0), "dense_latency_0_0": (32_553, 2_082, 133), "config15_s": (2_603, 258, 0),
        "config16_0": (7_642, 519, 80), "config18_s": (750, 237, 5)},
    8: {"config19_s": (23_412, 2, 224), "config20_s": (350_866, 28_663, 0), "config21_s": (342_594, 29_095, 0),
        "relu_config4_s": RELU, "relu_config7_s": RELU, "relu_config10_s": RELU, "config11_s": (2_315, 2_050, 0),
        "config12_s": (3_883, 290, 0), "dense_latency_0_0": (32_476, 2_572, 300), "config15_s": (2_603, 258, 0),
        "config16_0": (7_200, 473, 90), "config18_s": (1_475, 518, 5)},
}
INSTANCE_TOTAL = {4: (449_401, 45_507, 71), 6: (670_739, 63_658, 298), 8: (829_065, 70_071, 619)}


@pytest.fixture(scope="module")
def csynth():
    return {bits: parse_csynth(report_dir(bits) / "myproject_csynth.xml") for bits in (4, 6, 8)}


def layer(report: dict, key: str) -> dict:
    (match,) = [lay for lay in report["layers"] if key in lay["module"]]
    return match


def blocks(obj):
    """Every dict nested in obj that holds figures (a "latency", "resources" or top block)."""
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from blocks(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from blocks(v)


@pytest.mark.parametrize("bits", [4, 6, 8])
def test_csynth_headline(csynth, bits):
    r = csynth[bits]
    cycles, ii, est, lut, ff, dsp, bram18 = HEADLINE[bits]
    assert (r["tool"], r["version"], r["top"], r["part"]) == ("vivado_hls", "2020.1", "myproject", "xcvu13p-flga2577-2-e")
    assert (r["clock_ns"], r["clock_uncertainty_ns"], r["estimated_clock_ns"]) == (5.0, 0.62, est)
    assert r["latency"] == {"cycles": cycles, "cycles_min": cycles, "ns": cycles * 5.0, "ii": ii,
                            "source": "vivado_hls", "pipeline": "dataflow"}
    assert r["resources"] == {"LUT": lut, "FF": ff, "DSP": dsp, "BRAM": bram18 / 2, "BRAM18": bram18, "URAM": 0,
                              "source": "vivado_hls", "kind": "hls-estimate"}


@pytest.mark.parametrize("bits", [4, 6, 8])
def test_csynth_layers_match_index_table(csynth, bits):
    r = csynth[bits]
    assert len(r["layers"]) == 12
    for key, (lut, ff, dsp) in LAYERS[bits].items():
        res = layer(r, key)["resources"]
        assert (res["LUT"], res["FF"], res["DSP"]) == (lut, ff, dsp), key
        assert (res["source"], res["kind"]) == ("vivado_hls", "hls-estimate")
    assert layer(r, "config18_s")["resources"]["BRAM18"] == 4
    assert layer(r, "config20_s")["name"] == "pointwise_conv_1d_cl_ap_ufixed_ap_fixed_16_6_5_3_0_config20_U0"


@pytest.mark.parametrize("bits", [4, 6, 8])
def test_csynth_layer_sums_are_consistent(csynth, bits):
    r = csynth[bits]
    sums = tuple(sum(lay["resources"][k] for lay in r["layers"]) for k in ("LUT", "FF", "DSP"))
    assert sums == INSTANCE_TOTAL[bits]
    b = r["breakdown"]
    assert (b["Instance"]["LUT"], b["Instance"]["FF"], b["Instance"]["DSP"]) == INSTANCE_TOTAL[bits]
    # the top total is the instances plus the dataflow channels, expressions, muxes and registers
    assert (b["FIFO"]["LUT"], b["FIFO"]["FF"], b["Expression"]["LUT"], b["Multiplexer"]["LUT"], b["Register"]["FF"]) \
        == (44_492, 9_465, 7_618, 17_037, 1_893)
    assert sum(c["LUT"] for c in b.values()) == r["resources"]["LUT"]
    assert sum(c["FF"] for c in b.values()) == r["resources"]["FF"]


def test_csynth_layer_latency(csynth):
    r4, r8 = csynth[4], csynth[8]
    for key in ("config20_s", "config21_s", "dense_latency_0_0", "config16_0"):
        assert layer(r4, key)["latency"] == {"cycles": 1, "cycles_min": 1, "ns": 5.0, "ii": 1, "source": "vivado_hls"}
    assert layer(r4, "config18_s")["latency"]["cycles"] == 4
    assert layer(r8, "config18_s")["latency"]["cycles"] == 5
    for key in ("config19_s", "relu_config4_s", "config11_s", "config12_s", "config15_s"):
        assert layer(r4, key)["latency"]["cycles"] == 0
    # phi1 is reported with interval 0 and pipeline type "none" (a combinational instance)
    assert layer(r4, "config19_s")["latency"]["ii"] == 0


@pytest.mark.parametrize("bits", [4, 8])
def test_csynth_rpt_and_xml_agree(csynth, bits):
    from_rpt = parse_csynth(report_dir(bits) / "myproject_csynth.rpt")
    from_xml = csynth[bits]
    assert {k: v for k, v in from_rpt.items() if k != "report"} == {k: v for k, v in from_xml.items() if k != "report"}
    # csynth.xml is the same report under Vivado HLS's generic name
    assert parse_csynth(report_dir(bits) / "csynth.xml")["resources"] == from_xml["resources"]


def test_reports_are_json_with_sources(csynth):
    util = parse_vivado_utilization(folder(4) / "vivado_synth.rpt")
    for report in (csynth[4], util):
        assert json.loads(json.dumps(report)) == report
    for b in blocks(csynth[4]):
        if {"LUT", "cycles"} & set(b) or "tool" in b:
            assert b["source"] == "vivado_hls"
    assert util["source"] == "vivado"


@pytest.mark.parametrize("bits,lut,ff,dsp,carry", [(4, 235_359, 90_190, 101, 22_001), (6, 313_230, 114_745, 292, 31_886)])
def test_vivado_utilization(bits, lut, ff, dsp, carry):
    r = parse_vivado_utilization(folder(bits) / "vivado_synth.rpt")
    assert r == {"LUT": lut, "FF": ff, "DSP": dsp, "BRAM": 2.0, "URAM": 0, "CARRY": carry, "LUTRAM": 0,
                 "part": "xcvu13pflga2577-2", "design": "myproject", "version": "2020.1",
                 "source": "vivado", "kind": "post-synthesis"}


SEVEN_SERIES_UTILIZATION = """\
Copyright 1986-2019 Xilinx, Inc. All Rights Reserved.
------------------------------------------------------------------------------------
| Tool Version : Vivado v.2019.2 (lin64) Build 2708876 Wed Nov  6 21:39:14 MST 2019
| Command      : report_utilization -file top_utilization_routed.rpt
| Design       : top
| Device       : 7z020clg400-1
| Design State : Routed
------------------------------------------------------------------------------------

1. Slice Logic
--------------

+----------------------------+------+-------+-----------+-------+
|          Site Type         | Used | Fixed | Available | Util% |
+----------------------------+------+-------+-----------+-------+
| Slice LUTs                 | 1234 |     0 |     53200 |  2.32 |
|   LUT as Logic             | 1200 |     0 |     53200 |  2.26 |
|   LUT as Memory            |   34 |     0 |     17400 |  0.20 |
| Slice Registers            |  987 |     0 |    106400 |  0.93 |
+----------------------------+------+-------+-----------+-------+

3. Memory
---------

+-------------------+------+-------+-----------+-------+
|     Site Type     | Used | Fixed | Available | Util% |
+-------------------+------+-------+-----------+-------+
| Block RAM Tile    |  1.5 |     0 |       140 |  1.07 |
+-------------------+------+-------+-----------+-------+

4. DSP
------

+----------------+------+-------+-----------+-------+
|    Site Type   | Used | Fixed | Available | Util% |
+----------------+------+-------+-----------+-------+
| DSPs           |    7 |     0 |       220 |  3.18 |
+----------------+------+-------+-----------+-------+

7. Primitives
-------------

+----------+------+---------------------+
| Ref Name | Used | Functional Category |
+----------+------+---------------------+
| FDRE     |  987 |        Flop & Latch |
| CARRY4   |   56 |          CarryLogic |
+----------+------+---------------------+
"""


def test_vivado_utilization_seven_series_sample(tmp_path):
    """Hand-written sample: a 7-series report (Slice LUTs, CARRY4, half BRAM tiles, no URAM row)."""
    path = tmp_path / "top_utilization_routed.rpt"
    path.write_text(SEVEN_SERIES_UTILIZATION)
    r = parse_vivado_utilization(path)
    assert r == {"LUT": 1234, "FF": 987, "DSP": 7, "BRAM": 1.5, "URAM": 0, "CARRY": 56, "LUTRAM": 34,
                 "part": "7z020clg400-1", "design": "top", "version": "2019.2", "source": "vivado", "kind": "post-route"}


# Hand-written sample in the layout of Vivado's report_timing_summary (not a real run).
TIMING_SUMMARY = """\
Copyright 1986-2020 Xilinx, Inc. All Rights Reserved.
------------------------------------------------------------------------------------
| Tool Version : Vivado v.2020.1 (lin64) Build 2902540 Wed May 27 19:54:35 MDT 2020
| Command      : report_timing_summary -file vivado_timing_routed.rpt
| Design       : myproject
| Device       : xcvu13p-flga2577
| Design State : Routed
------------------------------------------------------------------------------------

Timing Summary Report

------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
      {wns}        {tns}                      {fail}                90190        0.021        0.000                      0                90190        2.225        0.000                       0                 90299  


{verdict}


------------------------------------------------------------------------------------------------
| Clock Summary
| -------------
------------------------------------------------------------------------------------------------

Clock   Waveform(ns)       Period(ns)      Frequency(MHz)
-----   ------------       ----------      --------------
{clocks}

------------------------------------------------------------------------------------------------
| Intra Clock Table
| -----------------
------------------------------------------------------------------------------------------------

Clock             WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
-----             -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
{intra}
"""

AP_CLK = "ap_clk  {0.000 2.500}      5.000           200.000         "
ROW = "{name:<18}{wns:>7}        0.000                      0                 1000        0.021        0.000                      0                 1000        2.225        0.000                       0                  1000  "


def timing_report(tmp_path, wns="0.476", tns="0.000", fail="0", clocks=(("ap_clk", "0.476"),), periods=(AP_CLK,)):
    text = TIMING_SUMMARY.format(wns=wns, tns=tns, fail=fail, clocks="\n".join(periods),
                                 verdict="All user specified timing constraints are met.",
                                 intra="\n".join(ROW.format(name=n, wns=w) for n, w in clocks))
    path = tmp_path / "vivado_timing_routed.rpt"
    path.write_text(text)
    return path


def test_vivado_timing_sample(tmp_path):
    r = parse_vivado_timing(timing_report(tmp_path))
    assert r == {"wns_ns": 0.476, "tns_ns": 0.0, "whs_ns": 0.021, "failing_endpoints": 0, "met": True,
                 "clock": "ap_clk", "clock_ns": 5.0, "achieved_clock_ns": 4.524, "part": "xcvu13p-flga2577",
                 "source": "vivado", "kind": "post-route"}
    assert parse_vivado_timing(timing_report(tmp_path), clock_ns=4.0)["achieved_clock_ns"] == 3.524


def test_vivado_timing_violated_and_two_clocks(tmp_path):
    """Hand-written sample: the WNS belongs to the slower of two clocks, found in the Intra Clock Table."""
    periods = (AP_CLK, "clk_io  {0.000 1.250}      2.500           400.000         ")
    path = timing_report(tmp_path, wns="-0.312", tns="-4.100", fail="17",
                         clocks=(("ap_clk", "-0.312"), ("clk_io", "0.800")), periods=periods)
    r = parse_vivado_timing(path)
    assert (r["wns_ns"], r["met"], r["failing_endpoints"], r["clock"], r["achieved_clock_ns"]) == (-0.312, False, 17, "ap_clk", 5.312)


def test_find_vendor_reports():
    found4 = find_vendor_reports(folder(4))
    assert found4 == {"csynth": report_dir(4) / "myproject_csynth.xml", "csynth_rpt": report_dir(4) / "myproject_csynth.rpt",
                      "utilization": folder(4) / "vivado_synth.rpt"}
    found8 = find_vendor_reports(folder(8))
    assert set(found8) == {"csynth", "csynth_rpt"}  # the 8-bit run has no vivado_synth.rpt
    assert find_vendor_reports(ANCHORS / "deepsets_8bit_16const_config_only_no_reports") == {}


def test_find_vendor_reports_prefers_the_most_final_stage(tmp_path):
    for name in ("vivado_synth.rpt", "impl/top_utilization_placed.rpt", "impl/top_utilization_routed.rpt",
                 "impl/top_timing_synth.rpt", "impl/top_timing_routed.rpt", "impl/top_timing_paths_routed.rpt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = find_vendor_reports(tmp_path)
    assert found == {"utilization": tmp_path / "impl/top_utilization_routed.rpt", "timing": tmp_path / "impl/top_timing_routed.rpt"}


def one_line_error(fn, *args, match: str):
    with pytest.raises(L1ForgeError, match=match) as err:
        fn(*args)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_missing_files(tmp_path):
    msg = one_line_error(parse_vivado_utilization, tmp_path / "vivado_synth.rpt", match="not found")
    assert str(tmp_path / "vivado_synth.rpt") in msg
    one_line_error(parse_csynth, tmp_path / "myproject_csynth.xml", match="HLS report not found")
    one_line_error(parse_vivado_timing, tmp_path / "timing.rpt", match="timing summary not found")
    one_line_error(find_vendor_reports, tmp_path / "nope", match="project folder not found")


def test_truncated_utilization(tmp_path):
    text = (folder(4) / "vivado_synth.rpt").read_text()
    cut = tmp_path / "vivado_synth.rpt"
    cut.write_text(text[:text.index("| CLB LUTs")])
    msg = one_line_error(parse_vivado_utilization, cut, match="no 'CLB LUTs' row in the utilization table")
    assert msg.startswith(str(cut))
    cut.write_text(text[:text.index("3. ARITHMETIC\n---")])
    one_line_error(parse_vivado_utilization, cut, match="no 'DSPs' row")


def test_truncated_csynth(tmp_path):
    xml = (report_dir(4) / "myproject_csynth.xml").read_text()
    path = tmp_path / "myproject_csynth.xml"
    path.write_text(xml[:xml.index("<AreaEstimates>")])
    one_line_error(parse_csynth, path, match="not a readable csynth XML")
    path.write_text(xml.replace("<Worst-caseLatency>19</Worst-caseLatency>", ""))
    one_line_error(parse_csynth, path, match="no <Worst-caseLatency>")
    rpt_text = (report_dir(4) / "myproject_csynth.rpt").read_text()
    rpt = tmp_path / "myproject_csynth.rpt"
    rpt.write_text(rpt_text[:rpt_text.index("== Utilization Estimates")])
    one_line_error(parse_csynth, rpt, match="no '== Utilization Estimates' section")
    row_end = rpt_text.index("|  17271|  166122|")
    rpt.write_text(rpt_text[:row_end + len("|  17271")])
    one_line_error(parse_csynth, rpt, match="config20_U0' has 5 cells, expected 7")


def test_stale_rpt_beside_xml_is_refused(tmp_path):
    shutil.copy(report_dir(4) / "myproject_csynth.xml", tmp_path)
    text = (report_dir(4) / "myproject_csynth.rpt").read_text()
    (tmp_path / "myproject_csynth.rpt").write_text(text.replace("|    56865|   518548|", "|    56865|   518000|", 1))
    one_line_error(parse_csynth, tmp_path / "myproject_csynth.xml", match="total LUT 518000 differs from 518548")


def test_timing_errors(tmp_path):
    path = timing_report(tmp_path, wns="NA")
    one_line_error(parse_vivado_timing, path, match="WNS is NA")
    path.write_text(path.read_text().replace("| Design Timing Summary", "| Something Else"))
    one_line_error(parse_vivado_timing, path, match="no 'Design Timing Summary' table")
