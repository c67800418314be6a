"""The op registry: one definition per canonical op, every backend's lowering table keyed by it."""
import numpy as np
import pytest
from onnx import helper
from qonnx.transformation.infer_shapes import InferShapes

from l1forge.compiler.atomic import atomic_folder, write_atomic
from l1forge.compiler.backends.base import CompileOptions
from l1forge.compiler.backends.hls4ml.lowering import LOWERING as HLS4ML_LOWERING
from l1forge.compiler.backends.rtl.trace import LOWERING as RTL_LOWERING
from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir import OPS, SUPPORTED_OPS, verify
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.ops import define
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import make_model, per_particle_dense, quant_node

# The canonical op the hls4ml backend has no layer for (a per-channel saturation Min only follows
# per-channel quantizers, which hls4ml refuses); it is refused by name. (Add and Mul lower to a
# Merge of two computed tensors; with a constant operand, to nothing unless a Dense absorbs them.)
HLS4ML_UNLOWERED = {"Min"}


def test_supported_ops_are_the_registry():
    assert SUPPORTED_OPS == tuple(OPS)
    assert set(SUPPORTED_OPS) == {"Quant", "MatMul", "Add", "Relu", "Min", "ReduceSum", "ReduceMean", "ReduceMax",
                                  "Mul", "Reshape", "Flatten", "Transpose", "Gather", "Concat", "Table", "DivQuant"}
    assert all(d.summary and callable(d.apply) for d in OPS.values())


def test_every_backend_lowers_only_registered_ops():
    assert set(RTL_LOWERING) == set(OPS)
    assert set(HLS4ML_LOWERING) == set(OPS) - HLS4ML_UNLOWERED


def test_an_op_is_defined_once():
    with pytest.raises(ValueError, match="Relu is defined twice"):
        define("Relu", summary="again")(lambda *a: None)
    assert OPS["Relu"].summary == "max(x, 0)"


def test_verify_refuses_an_unregistered_op_with_the_registry_list():
    inits = []
    model = make_model([quant_node(inits, "q", "x", "xq", 2.0**-4, 8),
                        helper.make_node("Sigmoid", ["xq"], ["y"], name="sig")], inits, [1, 4], [1, 4])
    found = verify(model.transform(InferShapes()), raise_on_error=False)
    assert [(v.node, v.rule) for v in found] == [("sig", "unsupported op")]
    assert ", ".join(SUPPORTED_OPS) in found[0].detail


def test_the_static_check_of_quant_runs_in_verify():
    inits = []
    model = make_model([quant_node(inits, "q", "x", "y", 0.1, 8)], inits, [1, 4], [1, 4])
    with pytest.raises(L1ForgeError, match="node q: non power-of-two scale"):
        verify(model)


def test_emulator_walks_the_registry_bit_exactly():
    model = canonicalize(per_particle_dense())
    x = grid_inputs(model, 3000, seed=4)
    np.testing.assert_array_equal(emulate(model, x).reshape(len(x), -1), qonnx_execute(model, x).reshape(len(x), -1))


def test_canonicalize_leaves_its_argument_alone():
    raw = per_particle_dense()
    before = raw.model.SerializeToString()
    canonicalize(raw)
    assert raw.model.SerializeToString() == before


def test_atomic_folder_publishes_whole_or_nothing(tmp_path):
    out = tmp_path / "build"
    with atomic_folder(out) as staging:
        (staging / "a.txt").write_text("first")
    assert (out / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_folder(out) as staging:
            (staging / "a.txt").write_text("second")
            raise RuntimeError("build failed")
    assert (out / "a.txt").read_text() == "first"  # the earlier build is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]  # no staging folder left
    write_atomic(tmp_path / "f.json", "{}")
    assert (tmp_path / "f.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "f.json"]


def test_compile_options_refuse_unknown_fields_and_bad_values():
    with pytest.raises(TypeError, match="unknown compile option.*reuse"):
        CompileOptions.from_fields(reuse=2)
    changed = CompileOptions.from_fields(CompileOptions(backend="rtl"), clock_ns=3.0)
    assert (changed.backend, changed.clock_ns, changed.reuse_factor) == ("rtl", 3.0, 1)
    with pytest.raises(L1ForgeError, match="unknown backend 'vivado'; available: hls4ml, rtl, finn"):
        CompileOptions(backend="vivado").check()
    with pytest.raises(L1ForgeError, match="--reuse-factor must be >= 1"):
        CompileOptions(reuse_factor=0).check()
