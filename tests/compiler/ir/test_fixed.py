"""Fixed-point arithmetic of the IR: rounding, types, constants on the grid."""
import numpy as np
import pytest
from onnx import helper

from l1forge.compiler.ir.fixed import QONNX_ROUNDING, ROUNDING_ALIASES, FixedType, log2_exact, shift_round
from l1forge.compiler.ir.integer import NotExact, const_mantissa

NODE = helper.make_node("MatMul", ["a", "b"], ["c"], name="mm")


@pytest.mark.parametrize("mode,ref", [
    ("ROUND", np.round), ("FLOOR", np.floor), ("CEIL", np.ceil), ("DOWN", np.trunc),
    ("HALF_UP", lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5)),  # qonnx: ties away from zero
    ("UP", lambda v: np.sign(v) * np.ceil(np.abs(v))),  # away from zero
    ("HALF_DOWN", lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5)),  # ties toward zero
])
@pytest.mark.parametrize("shift", [1, 2, 5])
def test_shift_round_matches_float_rounding(mode, ref, shift):
    m = np.arange(-300, 301, dtype=np.int64)
    expected = ref(m / 2.0**shift).astype(np.int64)  # exact in float64 for these magnitudes
    np.testing.assert_array_equal(shift_round(m, shift, mode), expected)


def test_shift_round_left_shift_is_exact():
    np.testing.assert_array_equal(shift_round(np.array([-3, 5]), -4, "ROUND"), [-48, 80])


def test_fixed_type_covering_and_hls_strings():
    t = FixedType.covering(-128, 127, 7)
    assert (t.signed, t.width, t.integer) == (True, 8, 1)
    assert t.hls("AP_RND_CONV", "AP_SAT") == "ap_fixed<8,1,AP_RND_CONV,AP_SAT>"
    u = FixedType.covering(0, 255, 8)
    assert (u.signed, u.width, u.integer) == (False, 8, 0) and u.hls() == "ap_ufixed<8,0>"
    assert FixedType.covering(-129, 0, 0).width == 9
    assert (t.min_int, t.max_int, u.min_int, u.max_int) == (-128, 127, 0, 255)


def test_log2_exact():
    assert log2_exact(0.125) == -3 and log2_exact(1.0) == 0 and log2_exact(64.0) == 6
    assert log2_exact(0.1) is None and log2_exact(3.0) is None and log2_exact(-2.0) is None


def test_const_mantissa_recovers_the_grid():
    v = np.array([0.5, -0.25, 0.125, 0.0, 3.0])
    m, f = const_mantissa(v, NODE, "w")
    assert f == 3
    np.testing.assert_array_equal(m, [4, -2, 1, 0, 24])
    assert const_mantissa(np.array([4.0, 8.0]), NODE, "w")[1] == -2


def test_const_mantissa_rejects_non_finite():
    with pytest.raises(NotExact, match="non-finite"):
        const_mantissa(np.array([1.0, np.nan]), NODE, "w")


@pytest.mark.parametrize("mode", QONNX_ROUNDING + tuple(ROUNDING_ALIASES))
def test_rounding_names_mean_what_qonnx_says(mode):
    """The IR's meaning is qonnx's: HALF_UP sends ties away from zero (-2.5 -> -3), not toward +inf."""
    from qonnx.custom_op.general.intquant import resolve_rounding_mode

    m = np.arange(-300, 301, dtype=np.int64)
    if mode == "ROUND_TO_ZERO":  # Brevitas' name, which qonnx does not read: truncation toward zero
        with pytest.raises(ValueError):
            resolve_rounding_mode(mode)
        expected = np.trunc(m / 8.0).astype(np.int64)
    else:
        expected = resolve_rounding_mode(mode)(m / 8.0).astype(np.int64)
    np.testing.assert_array_equal(shift_round(m, 3, ROUNDING_ALIASES.get(mode, mode)), expected)
