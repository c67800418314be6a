"""Each silent-wrong-answer trap of FACTS.md: the naive hls4ml conversion is wrong (or crashes)
where l1forge's firmware is bit-exact."""
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import channels_first_pooling, float_scale_dense, per_particle_dense
from tests.naive import naive_hls4ml_predict


def _l1forge_is_exact(model_factory, tmp_path):
    report = compile_model(model_factory(), tmp_path / "l1forge", n_random=5000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
    assert report["verification"]["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
    assert report["verification"]["samples"] == 5000


@pytest.mark.tools
def test_global_average_pool_after_channels_first_transpose(tmp_path):
    """Trap: qonnx's channels-last pass leaves the Transpose and hls4ml pools over the wrong axis."""
    x = grid_inputs(canonicalize(channels_first_pooling("GlobalAveragePool")), 2000, seed=3)
    ref = qonnx_execute(canonicalize(channels_first_pooling("GlobalAveragePool")), x)
    naive = naive_hls4ml_predict(channels_first_pooling("GlobalAveragePool"), x, tmp_path / "naive")
    wrong_rows = np.any(naive != ref, axis=1).sum()
    assert wrong_rows > 1000, f"the naive conversion was expected to pool over the wrong axis ({wrong_rows} rows wrong)"
    _l1forge_is_exact(lambda: channels_first_pooling("GlobalAveragePool"), tmp_path)


@pytest.mark.tools
def test_matmul_with_constant_on_particles_by_features(tmp_path):
    """Trap: hls4ml's MatmulConstToDense sizes the Dense from the whole (particles, features) shape."""
    x = grid_inputs(canonicalize(per_particle_dense()), 500, seed=4)
    with pytest.raises(ValueError, match="broadcast"):
        naive_hls4ml_predict(per_particle_dense(), x, tmp_path / "naive")
    _l1forge_is_exact(per_particle_dense, tmp_path)


def test_float_scale_is_refused_not_silently_wrong():
    """Trap: with a non power-of-two scale hls4ml inserts ApplyAlpha at a default precision and
    computes wrong numbers; l1forge names the quantizer and stops."""
    with pytest.raises(L1ForgeError, match="q_in.*non power-of-two scale"):
        compile_model(float_scale_dense(0.1), "/nonexistent/never-written", log=lambda m: None)


@pytest.mark.tools
@pytest.mark.parametrize("dynamo", [False, True])
def test_conv1d_deepset_with_global_average_pool(dynamo, tmp_path):
    """Trap: GlobalAveragePool after a channels-first Conv1d. The naive conversion pools over
    the wrong axis (TorchScript export) or cannot convert the pooling (dynamo export);
    l1forge lowers the convolutions to per-particle Dense layers and is bit-exact."""
    from l1forge.compiler.frontends.brevitas import export_brevitas

    from tests.user_models import ChannelsFirstConvDeepSet, calibrated

    torch = pytest.importorskip("torch")
    model = calibrated(ChannelsFirstConvDeepSet(), (8, 3))
    path = tmp_path / "conv.onnx"
    raw = export_brevitas(model, torch.zeros(1, 8, 3), path, dynamo=dynamo)
    ops = [n.op_type for n in raw.graph.node]
    assert "Conv" in ops and ("GlobalAveragePool" in ops) != dynamo
    canonical = canonicalize(export_brevitas(model, torch.zeros(1, 8, 3), dynamo=dynamo))
    assert "Conv" not in [n.op_type for n in canonical.graph.node]
    x = grid_inputs(canonical, 1000, seed=5)
    ref = qonnx_execute(canonical, x)
    from qonnx.core.modelwrapper import ModelWrapper
    if dynamo:
        with pytest.raises(Exception, match="Unsupported operation type: Unsqueeze"):
            naive_hls4ml_predict(ModelWrapper(str(path)), x, tmp_path / "naive")
    else:
        naive = naive_hls4ml_predict(ModelWrapper(str(path)), x, tmp_path / "naive")
        wrong = int(np.any(naive != ref, axis=1).sum())
        assert wrong > 900, f"the naive conversion was expected to pool over the wrong axis ({wrong} rows wrong)"
    report = compile_model(path, tmp_path / "l1forge", n_random=5000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
    assert report["verification"]["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
