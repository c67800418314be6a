"""Graph wiring: one-hot constant products (interaction-network pairs and aggregation) become
routing (Gather) and adder trees (ReduceSum); anything that is only almost one-hot stays the
general product it is. Every rewrite keeps QONNX's numbers exactly, and compiles bit-exactly."""
import numpy as np
import pytest

from l1forge.compiler.backends.hls4ml.emit import hls_layer_list
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.passes.wiring import one_hot_selection
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute
from l1forge.reference.ultrafast_jet_classification.models import incidence_matrices

from tests.graphs import constant_product, gather_nd_pairs

RR, RS = (m.numpy() for m in incidence_matrices(8))  # (8, 56) receiver / sender incidence


def ops(model):
    return [n.op_type for n in model.graph.node]


def _exact_against_raw(make, n=4000):
    """Canonical graph == the exported graph under QONNX, and the emulator == both."""
    model = canonicalize(make())
    x = grid_inputs(model, n, seed=3)
    before = qonnx_execute(make(), x)
    np.testing.assert_array_equal(qonnx_execute(model, x), before)
    np.testing.assert_array_equal(emulate(model, x).reshape(before.shape), before)
    return model


def test_one_hot_selection_reads_rows():
    assert one_hot_selection(RR.T)[:, 0].tolist() == [e // 7 for e in range(56)]
    sel = one_hot_selection(RR)
    assert sel.shape == (8, 7) and sel[0].tolist() == list(range(7))
    for bad in (RR * 2, RR + RS * 0.5, np.vstack([RR[:7], np.zeros((1, 56))]), np.vstack([RR[:7], RR[7] + RS[7]])):
        assert one_hot_selection(bad) is None


CASES = {
    "pairs, constant on the left": (lambda: constant_product(RR.T, (1, 8, 3), left=True), ["Quant", "Gather"]),
    "senders, constant on the left": (lambda: constant_product(RS.T, (1, 8, 3), left=True), ["Quant", "Gather"]),
    "aggregation, constant on the left": (lambda: constant_product(RR, (1, 56, 4), left=True),
                                          ["Quant", "Gather", "ReduceSum"]),
    "pairs, constant on the right": (lambda: constant_product(RR, (1, 3, 8), left=False), ["Quant", "Gather"]),
    "aggregation, constant on the right": (lambda: constant_product(RR.T, (1, 4, 56), left=False),
                                           ["Quant", "Gather", "ReduceSum"]),
    "GatherND between Transposes": (gather_nd_pairs, ["Quant", "Gather"]),
}


@pytest.mark.tools
@pytest.mark.parametrize("case", list(CASES))
def test_wiring_becomes_routing(case, tmp_path):
    make, expected = CASES[case]
    model = _exact_against_raw(make)
    assert ops(model) == expected
    layers = hls_layer_list(model)
    assert [l.spec["class_name"] for l in layers] == ["InputLayer", "L1ForgeRoute"]  # no Dense: no multiplier
    report = compile_model(model, tmp_path / "fw", n_random=3000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 3000


ALMOST = {
    "a weight of 2": RR * 2,
    "a half-weighted sender": RR + RS * 0.5,
    "an empty row": np.vstack([RR[:7], np.zeros((1, 56))]),
    "rows with different counts": np.vstack([RR[:7], RR[7] + RS[7]]),
}


@pytest.mark.tools
@pytest.mark.parametrize("case", list(ALMOST))
def test_almost_one_hot_stays_a_general_product(case, tmp_path):
    model = _exact_against_raw(lambda: constant_product(ALMOST[case], (1, 56, 4), left=True))
    assert "Gather" not in ops(model) and ops(model).count("MatMul") == 1
    dense = [l for l in hls_layer_list(model) if l.spec["class_name"] == "Dense"]
    assert len(dense) == 1 and dense[0].spec["weight_data"].shape == (56, 8)
    report = compile_model(model, tmp_path / "fw", n_random=3000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
