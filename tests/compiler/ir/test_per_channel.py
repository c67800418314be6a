"""Per-channel power-of-two scales (HGQ-style grids) through the IR: verify accepts them and
refuses what is not exact, the emulator equals qonnx on every rounding mode, type inference
keeps each channel on its own grid, a Min with per-channel bounds saturates each channel at its
own range, the hls4ml backend refuses a per-channel activation cast by name (one ap_fixed cast
rounds every channel alike)."""
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.integer import check_quant, quant_float_input, quant_type
from l1forge.compiler.ir.types import infer_fixed_point_types
from l1forge.compiler.ir.verify import verify
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.ir.fixed import QONNX_ROUNDING
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import per_channel_dense


@pytest.mark.parametrize("mode", QONNX_ROUNDING)
def test_emulator_equals_qonnx_on_per_channel_grids(mode):
    model = canonicalize(per_channel_dense(mode))
    assert verify(model, raise_on_error=False) == []
    x = grid_inputs(model, 10_000, seed=1)
    x[4:2000] += np.random.default_rng(0).uniform(-0.02, 0.02, x[4:2000].shape).astype(np.float32)  # off-grid inputs
    ours = emulate(model, x)
    theirs = qonnx_execute(model, x).reshape(ours.shape)
    assert np.array_equal(ours, theirs)
    # each output channel lies on its own grid and saturates at its own range
    steps = 2.0 ** -np.array([2, 4, 5, 7, 3])
    assert np.array_equal(np.round(ours / steps) * steps, ours)
    assert np.all(ours <= 127 * steps) and np.all(ours >= -128 * steps)
    assert np.any(np.isclose(ours, 127 * steps).any(axis=(0, 1)))  # saturation is exercised


def test_grid_inputs_and_input_conversion_respect_each_feature_grid():
    model = canonicalize(per_channel_dense())
    x = grid_inputs(model, 500, seed=3)
    steps = 2.0 ** -np.array([3, 6, 8])
    assert np.array_equal(np.round(x / steps) * steps, x)
    assert np.allclose(x[0, 0], -512 * steps) and np.allclose(x[1, 0], 511 * steps)  # the extremes
    p = check_quant(model, model.graph.node[0])
    assert p["frac"] == 8 and p["channel_frac"].ravel().tolist() == [3, 6, 8]
    m = quant_float_input(np.array([[[1.0, 1.0, 1.0]]]), p)
    assert m.ravel().tolist() == [256, 256, 256]  # 1.0 on the common grid 2**-8
    assert quant_float_input(np.array([[[0.07, 0.07, 0.07]]]), p).ravel().tolist() == [32, 16, 18]


def test_type_inference_covers_every_channel_on_the_finest_grid():
    model = canonicalize(per_channel_dense())
    types = infer_fixed_point_types(model)
    out = types[model.graph.output[0].name]
    assert out.frac == 7 and out.signed
    assert out.width == 8 + 7 - 2  # the coarsest channel (2**-2) needs 5 more integer bits than the finest
    assert quant_type(check_quant(model, model.graph.node[-1])) == out


def test_per_channel_scales_that_are_not_exact_are_refused_by_name():
    model = per_channel_dense()
    scale = model.get_initializer("s_act").copy()
    scale[0, 0, 2] = 0.1
    model.set_initializer("s_act", scale)
    with pytest.raises(L1ForgeError, match=r"node q_act \(Quant\): non power-of-two scale: scale 0.100000001 is not 2\*\*k"):
        canonicalize(model)
    with pytest.raises(L1ForgeError, match=r"node .*'q_act'.*per-channel scale shape: scale of shape \(2, 1, 5\) varies "
                                           r"along the batch axis"):
        verify(canonicalize(per_channel_dense(batch_scale=True)))
    model = per_channel_dense()
    model.set_initializer("b8", np.array([8.0, 6.0], dtype=np.float32))
    with pytest.raises(L1ForgeError, match=r"bit width \[8. 6.\] must be one integer in 1..32 \(qonnx's Quant takes a "
                                           r"scalar bit width"):
        canonicalize(model)


TOPS = (3, 100, 127, 9, 0)  # per-channel saturation in LSBs: narrower, wider than the Quant's, dead


def test_a_min_with_per_channel_bounds_saturates_each_channel_at_its_own_range():
    model = canonicalize(per_channel_dense("FLOOR", tops=TOPS))
    assert verify(model, raise_on_error=False) == []
    x = grid_inputs(model, 10_000, seed=4)
    ours = emulate(model, x)
    assert np.array_equal(ours, qonnx_execute(model, x).reshape(ours.shape))
    steps = 2.0 ** -np.array([2, 4, 5, 7, 3])
    top = np.minimum(np.array(TOPS), 127) * steps
    assert np.all(ours <= top) and np.all((ours == top).any(axis=(0, 1)))  # every bound is reached
    assert np.all(ours[..., 4] <= 0) and ours.min() < 0  # a bound of 0 keeps only the negative side
    types = infer_fixed_point_types(model)
    assert types[model.graph.output[0].name].width == 8 + 7 - 2  # still covers the widest channel


def test_a_min_bound_that_is_not_one_value_per_element_is_refused_by_name():
    model = per_channel_dense(tops=TOPS)
    model.set_initializer("top", np.ones((3, 1, 5), dtype=np.float32))
    with pytest.raises(L1ForgeError, match=r"node Min_0 \('range' in the source model\): Min bound shape: bound of shape \(3, 1, 5\) is not "
                                           r"one value per element of a sample"):
        verify(canonicalize(model))
    model.set_initializer("top", np.full(5, np.nan, dtype=np.float32))
    with pytest.raises(L1ForgeError, match=r"node Min_0 \('range' in the source model\): non-finite constant: bound .* holds inf or NaN"):
        verify(canonicalize(model))


def test_hls4ml_refuses_a_per_channel_activation_cast_by_name(tmp_path):
    with pytest.raises(L1ForgeError) as err:
        compile_model(per_channel_dense(), tmp_path / "fw", backend="hls4ml", n_random=10, log=lambda m: None)
    assert "per-channel quantizer not expressible as an ap_fixed cast: channels on 3 grids (2**-3, 2**-6, " \
           "2**-8) need one cast each; compile with --backend rtl" in str(err.value)
    assert not (tmp_path / "fw").exists()
