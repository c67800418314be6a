"""RTL backend: da4ml Verilog simulated cycle by cycle in Verilator, bit-exact with the emulator
and QONNX on >= 10,000 inputs; the latency measured in simulation equals the pipeline depth the
backend reports; yosys counts parsed and checked on a design counted by hand."""
import decimal
import json

import numpy as np
import pytest
from onnx import numpy_helper

from l1forge.compiler.backends.rtl import build_rtl_project, pipeline_cutoff
from l1forge.compiler.backends.rtl.trace import _trace, trace_model
from l1forge.compiler.ir import load_model
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.fixed import QONNX_ROUNDING
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs
from l1forge.hw.sim.verilator import VerilatorSimulator
from l1forge.hw.synth.yosys import resources_from_stat, synthesize, synthesize_by_module

from tests.graphs import constant_requant, per_channel_dense, per_particle_dense, signed_requant
from tests.samples import FIXTURES
from tests.tagger_checks import SMALL_TAGGERS, trained_tagger

@pytest.mark.tools
@pytest.mark.parametrize("case", list(SMALL_TAGGERS))
def test_verilator_bit_exact_and_latency_measured(case, tmp_path):
    path, x = trained_tagger(SMALL_TAGGERS[case], tmp_path)
    report = compile_model(path, tmp_path / "fw", backend="rtl", data=x, n_random=10_000, synth=False,
                           log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact" and v["samples"] == 12_000
    assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
    lat = report["latency"]
    assert lat["source"] == "verilator" and lat["ii"] == 1
    assert lat["cycles"] == report["pipeline"]["stages"] >= 1  # measured == what the backend reports
    assert lat["ns"] == pytest.approx(lat["cycles"] * 5.0)
    saved = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert saved["latency"] == lat and (tmp_path / "fw" / "rtl_prj" / "src" / "l1forge_model.v").is_file()


@pytest.mark.tools
def test_faster_clock_gives_deeper_pipeline_measured_in_simulation(tmp_path):
    path, x = trained_tagger(SMALL_TAGGERS["deepset mean 4 bit"], tmp_path)
    model = canonicalize(load_model(path))
    depths = {}
    for clock in (2.0, 10.0):
        project = build_rtl_project(model, tmp_path / f"rtl{clock}", clock_ns=clock)
        sim = VerilatorSimulator(project, model)
        out = sim.predict(grid_inputs(model, 3000, seed=2))
        assert np.array_equal(out, emulate(model, grid_inputs(model, 3000, seed=2)).reshape(3000, -1))
        assert sim.latency_cycles == project.stages and sim.initiation_interval == 1
        depths[clock] = project.stages
    assert pipeline_cutoff(2.0) < pipeline_cutoff(10.0)
    assert depths[2.0] > depths[10.0] >= 1


@pytest.mark.tools
@pytest.mark.parametrize("mode,narrow", [("ROUND", 0), ("HALF_UP", 0), ("FLOOR", 0), ("ROUND", 1)])
def test_rounding_and_saturation_modes(mode, narrow, tmp_path):
    """Requantization with ties on every other value: round half to even (built from da4ml's
    truncation), half up, floor; symmetric saturation for a narrow signed quantizer."""
    model = per_particle_dense(n=4, f=3, c=4, seed=3)
    act = [n for n in model.graph.node if n.name == "q_act"][0]
    for a in act.attribute:
        if a.name == "rounding_mode":
            a.s = mode.encode()
        if a.name == "narrow":
            a.i = narrow
        if a.name == "signed":
            a.i = narrow  # narrow quantizers are signed here
    report = compile_model(model, tmp_path / "fw", backend="rtl", n_random=10_000, synth=False, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 10_000


@pytest.mark.tools
def test_da4ml_decimal_precision_workaround():
    """da4ml 0.6.0 keeps constants as Decimals divided by power-of-two factors; at Python's default
    28 digits a bias of this interaction network loses its last bit (2 of 170 classifier outputs
    off by 2**-17 on every input). trace_model raises the precision; if this first assertion ever
    fails, da4ml fixed it and the workaround can go. (After the last requantization the wrong bit
    shows in a few rows: 13 of 3000 when found.)"""

    model = load_model(FIXTURES / "intnet8_canonical.onnx")
    x = grid_inputs(model, 3000, seed=1)
    expected = emulate(model, x).reshape(len(x), -1)
    flat = x.reshape(len(x), -1).astype(np.float64)
    with decimal.localcontext() as ctx:
        ctx.prec = 28
        assert (_trace(model).predict(flat) != expected).any(axis=1).sum() > 0
    assert np.array_equal(trace_model(model).predict(flat), expected)


def test_da4ml_constant_wrap_bug_pinned():
    """da4ml 0.6.0 wraps constants wrongly: Decimal's remainder keeps the dividend's sign and an
    unsigned type gets twice its modulus. If this fails, da4ml fixed it and trace's
    _quantize_constant can go."""
    from da4ml.trace.fixed_variable import FixedVariable, HWConfig

    def wrapped(value, k, i, f):
        return float(FixedVariable.from_const(value, hwconf=HWConfig(1, -1, -1)).quantize(k, i, f).low)

    assert wrapped(decimal.Decimal(-43) / 512, 0, -5, 6) == -2.0**-5  # the bit of weight 2**-6: 0
    assert wrapped(decimal.Decimal(5) / 16, 0, -2, 4) == 5 / 16  # wraps to 1/16 on [0, 1/4)


CONSTANTS = np.concatenate([np.arange(-80, 81), [-2000, -300, 200, 400, 3000]]) / 512


@pytest.mark.tools
@pytest.mark.parametrize("mode,signed,narrow", [("ROUND", 1, 0), ("HALF_UP", 1, 0), ("FLOOR", 1, 0), ("ROUND", 0, 0),
                                                ("HALF_UP", 0, 0), ("ROUND", 1, 1), ("UP", 1, 0), ("HALF_DOWN", 1, 1),
                                                ("CEIL", 1, 0), ("DOWN", 0, 0)])
def test_constants_requantized_exactly(mode, signed, narrow):
    """A bias with no live weight is a constant the trace rounds and saturates itself (found in an
    iCaloFlow student: the first feature of a MADE's order has no inputs); every tie and both
    saturation bounds, equal to the emulator."""
    model = canonicalize(constant_requant(CONSTANTS, mode, signed, narrow))
    x = grid_inputs(model, 300, seed=0)
    expected = emulate(model, x).reshape(len(x), -1)
    assert len(np.unique(expected[:, 1:], axis=0)) == 1 and len(np.unique(expected[0, 1:])) > 10
    assert np.array_equal(trace_model(model).predict(x.reshape(len(x), -1)), expected)


@pytest.mark.tools
def test_constants_requantized_exactly_in_verilator(tmp_path):
    report = compile_model(constant_requant(CONSTANTS, "ROUND"), tmp_path / "fw", backend="rtl", n_random=3000,
                           synth=False, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 3000


@pytest.mark.tools
def test_a_mismatch_names_the_first_divergent_layer_or_the_code_generation(tmp_path):
    """Verilog of one model checked against another whose bias differs by an output LSB: the traced
    program's layers name the Add; Verilog that differs from its own traced program (here: of the
    other model) is reported as differing in no traced layer."""
    from l1forge.hw.sim.cosim import cosimulate

    good = canonicalize(per_particle_dense())
    changed = per_particle_dense()
    b = changed.get_initializer("b")
    changed.set_initializer("b", (b + np.eye(len(b))[1] / 32).astype(np.float32))
    changed = canonicalize(changed)
    add = [n.name for n in changed.graph.node if n.op_type == "Add"]
    result = cosimulate(changed, VerilatorSimulator(build_rtl_project(good, tmp_path / "good"), good), n_random=500)
    assert result.mismatches["firmware_vs_emulator"] > 100 and result.mismatches["emulator_vs_qonnx"] == 0
    assert result.first_divergent_layer == add[0] and "first differs at index (0, 0, 1)" in result.detail
    result = cosimulate(good, VerilatorSimulator(build_rtl_project(changed, tmp_path / "changed"), good), n_random=500)
    assert result.mismatches["firmware_vs_emulator"] > 100
    assert result.first_divergent_layer is None and result.detail == "outputs differ but no traced layer does"


HAND_COUNTED = """module hand(input clk, input [3:0] a, input [3:0] b, output reg [3:0] q);
  always @(posedge clk) q <= a & b;
endmodule
"""


@pytest.mark.tools
def test_yosys_counts_a_design_counted_by_hand(tmp_path):
    """Four 2-input ANDs into four registers: 4 LUT2 and 4 FDRE, nothing else."""
    src = tmp_path / "hand.v"
    src.write_text(HAND_COUNTED)
    res, seconds = synthesize([src], "hand", tmp_path / "yosys")
    assert (res.LUT, res.FF, res.CARRY, res.MUXF, res.DSP, res.BRAM, res.SRL) == (4, 4, 0, 0, 0, 0, 0)
    assert res.cells.get("LUT2") == 4 and res.cells.get("FDRE") == 4


def test_stat_parser_sums_cell_families():
    stat = {"modules": {"\\top": {"num_cells_by_type": {
        "LUT1": 1, "LUT6": 10, "SRL16E": 2, "FDRE": 7, "FDSE": 1, "CARRY4": 3, "CARRY8": 1, "MUXF7": 2, "MUXF8": 1,
        "DSP48E2": 5, "RAMB36E2": 2, "RAMB18E2": 3, "INV": 4}}}}
    res = resources_from_stat(stat, "top")
    assert (res.LUT, res.SRL, res.FF, res.CARRY, res.MUXF, res.DSP, res.BRAM) == (13, 2, 8, 4, 3, 5, 3.5)


@pytest.mark.tools
def test_compile_rtl_with_yosys_writes_sourced_figures(tmp_path, monkeypatch):
    path, x = trained_tagger(SMALL_TAGGERS["deepset mean 4 bit"], tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative output folder (the simulator runs elsewhere)
    report = compile_model(path, "fw", backend="rtl", data=x[:500], n_random=9500, log=lambda m: None)
    res = report["resources"]
    assert res["source"].startswith("yosys") and res["LUT"] > 100 and res["FF"] > 10 and res["DSP"] == 0
    assert report["latency"]["source"] == "verilator"
    md = (tmp_path / "fw" / "report.md").read_text()
    assert f"{res['LUT']:,} LUT" in md and "(verilator)" in md
    est = report["estimate"]["resources"]  # the estimator fitted to yosys (README: estimator error)
    assert est["source"] == "estimate:l1forge-da4ml-v1"
    assert abs(est["LUT"] / res["LUT"] - 1) < 0.2 and abs(est["FF"] / res["FF"] - 1) < 0.2


TWO_STAGES = {
    "and_stage": "module and_stage(input [7:0] model_inp, output [3:0] model_out);\n"
                 "  assign model_out = model_inp[7:4] & model_inp[3:0];\nendmodule\n",
    "xor_stage": "module xor_stage(input [3:0] model_inp, output [3:0] model_out);\n"
                 "  assign model_out = model_inp ^ {model_inp[0], model_inp[3:1]};\nendmodule\n",
    "two": "module two(input clk, input [7:0] a, output reg [3:0] q);\n"
           "  reg [7:0] r0; reg [3:0] r1; wire [3:0] s0, s1;\n"
           "  and_stage st0(.model_inp(r0), .model_out(s0));\n"
           "  xor_stage st1(.model_inp(r1), .model_out(s1));\n"
           "  always @(posedge clk) begin r0 <= a; r1 <= s0; q <= s1; end\nendmodule\n",
}


@pytest.mark.tools
def test_yosys_by_module_adds_parts_counted_by_hand(tmp_path):
    """Two combinational stages (4 AND2, 4 XOR2) between 8 + 4 + 4 registers: 8 LUT2 and 16 FDRE,
    the same whether synthesized flat or stage by stage."""
    files = []
    for name, text in TWO_STAGES.items():
        files.append(tmp_path / f"{name}.v")
        files[-1].write_text(text)
    flat, _ = synthesize(files, "two", tmp_path / "flat")
    parts, _ = synthesize_by_module(files, "two", ["and_stage", "xor_stage"], tmp_path / "parts", jobs=2)
    for res in (flat, parts):
        assert (res.LUT, res.FF, res.CARRY, res.MUXF, res.DSP) == (8, 16, 0, 0, 0)
        assert res.cells.get("LUT2") == 8 and res.cells.get("FDRE") == 16
    assert "and_stage" not in parts.cells  # the black-box instances are not counted as cells


@pytest.mark.parametrize("mode", QONNX_ROUNDING)
def test_traced_requantization_in_every_rounding_mode(mode):
    """da4ml's traced program rounds as the emulator does, in every mode, on signed ties and on
    per-channel grids."""
    for model in (canonicalize(signed_requant(mode)), canonicalize(per_channel_dense(mode))):
        x = grid_inputs(model, 4000, seed=3)
        np.testing.assert_array_equal(trace_model(model).predict(x.reshape(len(x), -1)),
                                      emulate(model, x).reshape(len(x), -1))


@pytest.mark.tools
@pytest.mark.parametrize("backend", ["hls4ml", "rtl"])
@pytest.mark.parametrize("mode", QONNX_ROUNDING)
def test_signed_requantization_with_negative_ties(backend, mode, tmp_path):
    """Every qonnx rounding mode on negative and positive ties: qonnx's HALF_UP rounds a negative
    tie away from zero (AP_RND_INF in HLS, built from truncation and the sign bit in RTL; an
    earlier l1forge read it as half toward +inf), HALF_DOWN toward zero (AP_RND_ZERO); CEIL and UP
    have no ap_fixed rounding (l1forge's division layer, by 1)."""
    model = signed_requant(mode)
    x = grid_inputs(canonicalize(signed_requant(mode)), 12_000, seed=2)
    y = emulate(canonicalize(signed_requant(mode)), x)
    assert (y < 0).mean() > 0.2  # the quantizer sees negative values
    w, b = (numpy_helper.to_array(t) for t in model.graph.initializer[:2])
    pre = (np.clip(np.round(x * 256), -2048, 2047) / 256 @ w + b) * 32  # the requantized value in output steps
    assert ((pre - np.floor(pre) == 0.5) & (pre < 0) & (pre > -128)).sum() > 20  # negative ties in range
    report = compile_model(model, tmp_path / "fw", backend=backend, data=x, n_random=0, synth=False,
                           log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 12_000


@pytest.mark.tools
@pytest.mark.parametrize("mode", ["ROUND", "FLOOR"])
def test_per_channel_grids_bit_exact_in_verilator(mode, tmp_path):
    """Per-feature input grids, per-output-channel weight and activation grids (HGQ-style): each
    element is quantized on its own grid in RTL; the port carries each feature's own width."""
    from da4ml.types import minimal_kif

    report = compile_model(per_channel_dense(mode), tmp_path / "fw", backend="rtl", n_random=10_000, synth=False,
                           log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact" and v["samples"] == 10_000
    assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
    comb = trace_model(canonicalize(per_channel_dense(mode)))
    assert [minimal_kif(q) for q in comb.inp_qint[:3]] == [(1, 6, 3), (1, 3, 6), (1, 1, 8)]  # 10 bits each


@pytest.mark.tools
def test_per_channel_saturation_bounds_narrow_each_channel_in_verilator(tmp_path):
    """A Min with per-channel bounds after a Quant (the HGQ exporter's per-channel ranges): bit-exact,
    and each output channel's traced range ends at its own bound."""
    tops = (3, 100, 127, 9, 0)
    report = compile_model(per_channel_dense("FLOOR", tops=tops), tmp_path / "fw", backend="rtl", n_random=10_000,
                           synth=False, log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact" and v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
    comb = trace_model(canonicalize(per_channel_dense("FLOOR", tops=tops)))
    steps = 2.0 ** -np.array([2, 4, 5, 7, 3])
    assert [q.max for q in comb.out_qint[:5]] == (np.minimum(tops, 127) * steps).tolist()
    assert [q.max for q in trace_model(canonicalize(per_channel_dense("FLOOR"))).out_qint[:5]] == (127 * steps).tolist()


@pytest.mark.tools
def test_brevitas_per_channel_quantizers_compile_bit_exact(tmp_path):
    """A user's Brevitas model with per-channel fixed-point weight and activation quantizers."""
    import torch

    from l1forge.compiler.frontends.brevitas import export_brevitas
    from tests.user_models import PerChannelDeepSet, calibrated

    model = export_brevitas(calibrated(PerChannelDeepSet(), (8, 3)), torch.randn(1, 8, 3))
    quants = [n for n in model.graph.node if n.op_type == "Quant"]
    scales = [np.unique(numpy_helper.to_array(t)) for n in quants for t in model.graph.initializer if t.name == n.input[1]]
    assert sum(len(s) > 1 for s in scales) >= 2  # per-channel scales really differ
    x = np.random.default_rng(4).normal(0, 1.5, (2000, 8, 3)).astype(np.float32)
    report = compile_model(model, tmp_path / "fw", backend="rtl", data=x, n_random=10_000, synth=False,
                           log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 12_000


def test_da4ml_constant_fraction_bits_pinned():
    """da4ml 0.6.0 keeps at most 32 fraction bits of a constant: x + 2**-40 comes out x (found by the
    fuzzer: a bias of 2**-52 vanished). trace._plus adds such a constant on a grid scaled by 2**k;
    a constant output that fine is refused. If the first assertion fails, da4ml fixed it and
    _plus can go."""
    from da4ml.trace import FixedVariableArray, FixedVariableArrayInput, comb_trace

    from l1forge.compiler.backends.rtl.trace import _plus

    with decimal.localcontext() as ctx:
        ctx.prec = 250
        port = FixedVariableArrayInput((1,))
        x = port.quantize(np.array([1]), np.array([3]), np.array([2]))._vars[0]
        both = FixedVariableArray(np.array([x + 2.0**-40, _plus(x, 2.0**-40), _plus(x, -3 * 2.0**-50)], dtype=object),
                                  None, hwconf=x.hwconf)
        got = comb_trace(port, both).predict(np.array([[1.25], [-2.5]]))
    assert got[:, 0].tolist() == [1.25, -2.5]  # da4ml: the constant is lost
    assert got[:, 1].tolist() == [1.25 + 2.0**-40, -2.5 + 2.0**-40]
    assert got[:, 2].tolist() == [1.25 - 3 * 2.0**-50, -2.5 - 3 * 2.0**-50]
