"""Estimators, the part database and the report's figures: the hls4ml estimator's error on the
seed paper's real Vivado results is pinned; vendor synthesis plumbing on the paper's real reports."""
import json
import os
import stat

import numpy as np
import pytest

from l1forge.compiler.cli import main
from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.estimate.calibration import hls4ml_references, paper_deepset_shapes
from l1forge.hw.estimate.estimators import HLS4ML_ESTIMATOR, LUT_PER_ADDER_BIT, LayerShape, csd_digits, estimate_hls4ml, register_bits
from l1forge.hw.parts import PARTS, find_part

from tests.samples import anchors_dir
from tests.graphs import per_particle_dense

# Largest relative error allowed on each reference (README "Estimator error"): LUT and FF were fitted
# on these two designs (two constants), DSP and cycles follow from fixed rules.
ERROR_BOUNDS = {"LUT": 0.10, "FF": 0.05, "DSP": 0.65, "cycles": 0.0}


def test_hls4ml_estimator_error_on_the_paper_deep_sets_does_not_grow():
    rows = hls4ml_references(anchors_dir())
    assert [r["reference"][:20] for r in rows] == ["deepsets_4bit_8const", "deepsets_6bit_8const"]
    assert rows[0]["measured"] == {"LUT": 235359, "FF": 90190, "DSP": 101, "cycles": 19}  # vivado_synth.rpt, csynth
    assert rows[1]["measured"] == {"LUT": 313230, "FF": 114745, "DSP": 292, "cycles": 19}
    for row in rows:
        for k, bound in ERROR_BOUNDS.items():
            assert abs(row["relative_error"][k]) <= bound, (row["reference"], k, row["relative_error"][k])


# The same paper models through l1forge's own path (Keras frontend, exact accumulator types, reuse
# factor 1, no softmax): out of sample for the fitted constants; README "Estimator error".
COMPILE_PATH_BOUNDS = {"LUT": 0.20, "FF": 0.15}


@pytest.mark.tools
@pytest.mark.parametrize("bits", [4, 6])
def test_estimator_on_the_paper_models_compiled_by_l1forge(bits, tmp_path):
    folder = anchors_dir() / f"deepsets_{bits}bit_8const_vu13p_5ns_hls2020.1"
    report = compile_model(folder / "keras_model.h5", tmp_path / "fw", verify_firmware=False, log=lambda m: None)
    vivado = {r["reference"]: r["measured"] for r in hls4ml_references(anchors_dir())}[folder.name]
    for k, bound in COMPILE_PATH_BOUNDS.items():
        assert abs(report["resources"][k] / vivado[k] - 1) <= bound, (bits, k, report["resources"][k], vivado[k])


def test_paper_model_shapes_come_from_its_weights():
    shapes = {s.name: s for s in paper_deepset_shapes(anchors_dir() / "deepsets_4bit_8const_vu13p_5ns_hls2020.1")}
    phi2 = shapes["phi2"]
    assert (phi2.rows, phi2.n_in, phi2.n_out, phi2.in_bits, phi2.acc_bits, phi2.reuse) == (8, 32, 32, 8, 16, 2)
    assert phi2.weights.min() >= -8 and phi2.weights.max() <= 7  # fixed<4,1>: mantissas in [-8, 7]
    assert shapes["dense"].weights.shape == (32, 5) and np.abs(shapes["dense"].weights).max() > 127  # fixed<16,6>


@pytest.mark.parametrize("m, digits", [(0, 0), (1, 1), (3, 2), (5, 2), (7, 2), (-7, 2), (11, 3), (255, 2), (85, 4)])
def test_csd_digits(m, digits):
    assert csd_digits(m) == digits


def test_dense_estimate_counted_by_hand():
    """Weights [[1, 3], [7, 0]]: column sums of CSD digits 1+2=3 and 2+0=2 -> 2 + 1 adds of 10 bits,
    on 4 rows; outputs 4 x 2 x 10 bits registered for 1 cycle."""
    layer = LayerShape("d", "dense", rows=4, n_in=2, n_out=2, in_bits=6, out_bits=10, acc_bits=10,
                       weights=np.array([[1, 3], [7, 0]]))
    est = estimate_hls4ml([layer], clock_ns=5.0)
    assert est["layers"][0]["resources"] == {"LUT": round(4 * 3 * 10 * LUT_PER_ADDER_BIT), "FF": 80, "DSP": 0,
                                             "BRAM": 0, "source": HLS4ML_ESTIMATOR}
    assert est["latency"] == {"cycles": 1, "ns": 5.0, "ii": 1, "source": HLS4ML_ESTIMATOR}


def test_register_bits_of_a_pipeline(tmp_path):
    v = tmp_path / "top.v"
    v.write_text("module top(input clk);\n  reg [7:0] stage0_inp;\n  reg [12:3] stage1_inp;\n  wire [4:0] w;\n"
                 "  reg [0:0] b;\nendmodule\n")
    assert register_bits(v) == 8 + 10 + 1


def test_parts_known_and_unknown():
    assert find_part("xcvu13p-flga2577-2-e").LUT == 1_728_000
    assert find_part("XCVU9P").name.startswith("xcvu9p")
    assert find_part("xc7a100tcsg324-1").family == "Artix-7"
    assert {p.device for p in PARTS.values()} >= {"xcvu13p", "xcvu9p", "xcku115", "xczu9eg", "xc7a100t"}
    with pytest.raises(L1ForgeError, match="unknown FPGA part 'xcvu1p'; known parts: xcvu13p-flga2577-2-e"):
        find_part("xcvu1p")


@pytest.mark.tools
def test_report_has_per_layer_estimates_utilization_and_verdict(tmp_path):
    report = compile_model(per_particle_dense(), tmp_path / "fw", part="xczu9eg-ffvb1156-2-e", n_random=1000,
                           latency_budget_ns=10.0, log=lambda m: None)
    saved = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert saved["schema"] == "l1forge.report/1" and saved["part"]["totals"]["LUT"] == 274_080
    res, lat = saved["resources"], saved["latency"]
    assert res["source"] == lat["source"] == HLS4ML_ESTIMATOR
    layers = [l for l in saved["layers"] if "resources" in l]
    assert len(layers) == len(saved["layers"]) >= 2
    for k in ("LUT", "FF", "DSP", "BRAM"):
        assert sum(l["resources"][k] for l in layers) == res[k]
    assert sum(l["latency"]["cycles"] for l in layers) == lat["cycles"] >= 1
    assert saved["utilization"]["LUT"] == pytest.approx(100 * res["LUT"] / 274_080, abs=1e-3)
    assert (lat["cycles"], lat["ns"]) == (2, 10.0)  # Dense + its output register, ReLU/Quant register
    assert saved["verdict"]["latency"] == {"budget_ns": 10.0, "ns": 10.0, "within": True, "source": HLS4ML_ESTIMATOR}
    assert saved["verdict"]["capacity"]["within"] is True and saved["verdict"]["ok"] is True
    tight = compile_model(per_particle_dense(), tmp_path / "fw2", latency_budget_ns=9.0, verify_firmware=False,
                          log=lambda m: None)
    assert tight["verdict"]["latency"]["within"] is False and tight["verdict"]["ok"] is False
    assert report["verification"]["status"] == "bit-exact"


@pytest.mark.tools
def test_unknown_part_is_one_line_and_writes_nothing(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    per_particle_dense().save(str(model))
    assert main(["compile", str(model), "--out", str(tmp_path / "fw"), "--part", "xc9z999"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown FPGA part 'xc9z999'; known parts:") and "\n" not in err
    assert not (tmp_path / "fw").exists()


def _fake_vivado_hls(bin_dir, reports):
    """A stand-in for vivado_hls: copies the paper's real HLS and Vivado reports into the project
    folder hls4ml runs it in, as the real tool would write them."""
    bin_dir.mkdir()
    exe = bin_dir / "vivado_hls"
    exe.write_text(f"#!/bin/sh\ncp -r '{reports}/myproject_prj' . && cp '{reports}/vivado_synth.rpt' .\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


@pytest.mark.tools
def test_synth_reads_vendor_reports_into_the_schema(tmp_path, monkeypatch):
    _fake_vivado_hls(tmp_path / "bin", anchors_dir() / "deepsets_4bit_8const_vu13p_5ns_hls2020.1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    report = compile_model(per_particle_dense(), tmp_path / "fw", hls_tool="Vivado", vendor_synth=True,
                           n_random=500, log=lambda m: None)
    assert report["latency"] == {"cycles": 19, "cycles_min": 19, "ns": 95.0, "ii": 2, "source": "vivado_hls",
                                 "pipeline": "dataflow"}
    res = report["resources"]
    assert (res["LUT"], res["FF"], res["DSP"], res["source"], res["kind"]) == (235359, 90190, 101, "vivado",
                                                                               "post-synthesis")
    assert report["estimate"]["resources"]["source"] == HLS4ML_ESTIMATOR
    assert len(report["vendor_layers"]) == 12 and report["utilization"]["LUT"] == pytest.approx(13.62, abs=0.01)


def test_synth_without_the_tool_is_refused_before_building(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(L1ForgeError, match="--synth needs vivado_hls"):
        compile_model(per_particle_dense(), tmp_path / "fw", hls_tool="Vivado", vendor_synth=True)
    assert not (tmp_path / "fw").exists()
