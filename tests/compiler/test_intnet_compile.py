"""The interaction network through the same path as the deep sets: the pair construction and the
aggregation compile as routing and adder trees (no multiplier), bit-exact on 10,000 jets plus
grid inputs at N = 8 and 16 (N = 32, 992 edges, in the slow set); the forms other exporters and
user code produce compile the same way."""
import numpy as np
import pytest
import torch

from l1forge.compiler.backends.hls4ml.emit import hls_layer_list
from l1forge.compiler.frontends.brevitas import export_brevitas
from l1forge.compiler.ir import load_model
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs
from l1forge.models.taggers import TaggerConfig

from tests.tagger_checks import check_tagger
from tests.user_models import ChannelsFirstInteractionNet, IndexedInteractionNet, calibrated

pytestmark = pytest.mark.tools  # every test here runs g++, Verilator, Pythia or Chromium

FAST = [(8, 3, 8), (16, 16, 6)]
SLOW = [(32, 3, 8), (8, 16, 4), (16, 3, 4)]


def _check_intnet(n, f, bits, jets_file, tmp_path):
    cfg = TaggerConfig(model="intnet", n_constituents=n, n_features=f, w_bits=bits, a_bits=bits)
    check_tagger(cfg, jets_file, tmp_path)
    model = canonicalize(load_model(tmp_path / "model.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Gather") == 3 and ops.count("ReduceSum") == 1 and ops.count("Concat") == 2
    layers = hls_layer_list(model)
    dense = [l for l in layers if l.spec["class_name"] == "Dense"]
    # only the MLPs multiply: effects (2) + objects (3) + classifier (1) + output (1)
    assert len(dense) == len(cfg.effects) + len(cfg.objects) + len(cfg.classifier) + 1
    routes = [l.spec for l in layers if l.spec["class_name"] == "L1ForgeRoute"]
    edges = n * (n - 1)
    assert sorted((r["n_out"], r["n_sum"]) for r in routes) == sorted(
        [(edges * f, 1), (edges * f, 1), (n * cfg.effects[-1], n - 1)])


@pytest.mark.parametrize("n,f,bits", FAST)
def test_intnet_bit_exact(n, f, bits, jets_10k, tmp_path):
    _check_intnet(n, f, bits, jets_10k, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("n,f,bits", SLOW)
def test_intnet_bit_exact_slow(n, f, bits, jets_10k, tmp_path):
    _check_intnet(n, f, bits, jets_10k, tmp_path)


@pytest.mark.parametrize("cls", [ChannelsFirstInteractionNet, IndexedInteractionNet])
@pytest.mark.parametrize("dynamo", [True, False])
def test_user_written_interaction_networks(cls, dynamo, tmp_path):
    """JEDI-net style (channels first, x @ R_r, Conv1d) and indexing style (x[:, idx], reshape +
    sum), through both exporters: canonical form equals Brevitas, firmware equals QONNX."""
    model = calibrated(cls(), (8, 3))
    path = tmp_path / "m.onnx"
    export_brevitas(model, torch.zeros(1, 8, 3), path, dynamo=dynamo)
    canonical = canonicalize(load_model(path))
    ops = [node.op_type for node in canonical.graph.node]
    assert "GatherND" not in ops and ops.count("Gather") == 2 + (cls is ChannelsFirstInteractionNet)
    x = grid_inputs(canonical, 4000, seed=5)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy().astype(np.float64)
    np.testing.assert_array_equal(emulate(canonical, x).reshape(expected.shape), expected)
    report = compile_model(canonical, tmp_path / "fw", data=x, n_random=1000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
    assert report["verification"]["samples"] == 5000
