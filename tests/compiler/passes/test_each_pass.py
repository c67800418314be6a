"""Each canonicalization pass on its own, on small hand-built graphs: what it matches, what it
leaves alone, that it keeps the graph's meaning (QONNX execution before = after) and that it
never edits the model it is given (ModelWrapper.transform works on a copy)."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.transformation.general import SortCommutativeInputsInitializerLast
from qonnx.transformation.infer_shapes import InferShapes

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.passes.canonicalize import PASSES, BatchFreeReshapes, FoldConstantQuants, canonicalize
from l1forge.compiler.passes.layout import Conv1x1ToMatMul, SinkTransposes
from l1forge.compiler.passes.pooling import LowerSetPooling
from l1forge.compiler.passes.wiring import LowerGraphWiring
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import make_model, quant_node


def ops(model):
    return [n.op_type for n in model.graph.node]


def shaped(model):
    return model.transform(InferShapes())


def applied(model, transformation):
    """The pass applied through qonnx's transform, with a check that the input is untouched."""
    before = model.model.SerializeToString()
    out = model.transform(transformation)
    assert model.model.SerializeToString() == before
    return out


def same_meaning(a, b, n=2000, seed=0):
    x = grid_inputs(canonicalize(a), n, seed=seed)
    np.testing.assert_array_equal(qonnx_execute(a, x), qonnx_execute(b, x))


def conv_model(bias=True, kernel=1, n=8, c_in=3, c_out=4):
    rng = np.random.default_rng(1)
    w = rng.integers(-8, 8, (c_out, c_in, kernel)) / 8.0
    inits = [helper.make_tensor("w", TensorProto.FLOAT, list(w.shape), w.ravel().tolist())]
    ins = ["xq", "w"]
    if bias:
        inits.append(helper.make_tensor("b", TensorProto.FLOAT, [c_out], (rng.integers(-8, 8, c_out) / 4.0).tolist()))
        ins.append("b")
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Conv", ins, ["y"], name="conv", kernel_shape=[kernel])]
    return shaped(make_model(nodes, inits, [1, c_in, n], [1, c_out, n - kernel + 1]))


@pytest.mark.parametrize("bias", [True, False])
def test_conv1x1_becomes_a_per_particle_matmul(bias):
    model = conv_model(bias)
    out = applied(model, Conv1x1ToMatMul())
    assert ops(out) == ["Quant", "Transpose", "MatMul"] + (["Add"] if bias else []) + ["Transpose"]
    same_meaning(model, out)


def test_conv_with_a_wider_kernel_is_left_alone():
    model = conv_model(kernel=3)
    assert ops(applied(model, Conv1x1ToMatMul())) == ["Quant", "Conv"]


def transposed_relu(output_transposed_back=True):
    inits = []
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Transpose", ["xq"], ["t"], name="t1", perm=[0, 2, 1]),
             helper.make_node("Relu", ["t"], ["r"], name="relu")]
    if output_transposed_back:
        nodes.append(helper.make_node("Transpose", ["r"], ["y"], name="t2", perm=[0, 2, 1]))
        return shaped(make_model(nodes, inits, [1, 8, 3], [1, 8, 3]))
    nodes[-1].output[0] = "y"
    return shaped(make_model(nodes, inits, [1, 8, 3], [1, 3, 8]))


def test_sink_transposes_moves_past_relu_and_cancels_inverse_pairs():
    model = transposed_relu()
    out = applied(model, SinkTransposes())
    assert ops(out) == ["Quant", "Relu"]
    same_meaning(model, out)


def test_sink_transposes_keeps_a_transpose_that_changes_the_layout():
    model = transposed_relu(output_transposed_back=False)
    out = applied(model, SinkTransposes())
    assert ops(out) == ["Quant", "Relu", "Transpose"]  # moved to the end, still there
    same_meaning(model, out)


def test_sink_transposes_moves_through_a_gather():
    idx = np.array([2, 0, 1], dtype=np.int64)
    inits = [helper.make_tensor("idx", TensorProto.INT64, [3], idx.tolist())]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Transpose", ["xq"], ["t"], name="t1", perm=[0, 2, 1]),
             helper.make_node("Gather", ["t", "idx"], ["g"], name="g", axis=1),
             helper.make_node("Transpose", ["g"], ["y"], name="t2", perm=[0, 2, 1])]
    model = shaped(make_model(nodes, inits, [1, 8, 3], [1, 8, 3]))
    out = applied(model, SinkTransposes())
    assert ops(out) == ["Quant", "Gather"]
    same_meaning(model, out)


def weight_quant_model(scale=2.0**-3):
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    inits = [helper.make_tensor("w_float", TensorProto.FLOAT, [4, 3], w.ravel().tolist())]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             quant_node(inits, "q_w", "w_float", "w", scale, 4),
             helper.make_node("MatMul", ["xq", "w"], ["y"], name="mm")]
    return shaped(make_model(nodes, inits, [1, 4], [1, 3]))


def test_fold_constant_quants_folds_weights_and_keeps_activation_quants():
    model = weight_quant_model()
    out = applied(model, FoldConstantQuants())
    assert ops(out) == ["Quant", "MatMul"]
    w = out.get_initializer("w")
    np.testing.assert_array_equal(w * 8, np.round(w * 8))  # on the 2**-3 grid
    assert np.abs(w * 8).max() <= 8
    same_meaning(model, out)


def test_fold_constant_quants_names_an_inexact_weight_quantizer():
    with pytest.raises(L1ForgeError, match="node q_w .*non power-of-two scale"):
        weight_quant_model(scale=0.3).transform(FoldConstantQuants())


def test_batch_free_reshapes_puts_minus_one_on_the_batch_axis_only():
    inits = [helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1]),
             helper.make_tensor("shape2", TensorProto.INT64, [2], [-1, 24])]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Reshape", ["xq", "shape"], ["f"], name="flat"),
             helper.make_node("Reshape", ["f", "shape2"], ["y"], name="again")]
    model = shaped(make_model(nodes, inits, [1, 8, 3], [1, 24]))
    out = applied(model, BatchFreeReshapes())
    assert list(out.get_initializer("shape")) == [-1, 24]  # the batch 1 and the inferred -1 spelled out
    assert list(out.get_initializer("shape2")) == [-1, 24]  # already batch-free: unchanged
    x = grid_inputs(canonicalize(model), 64, seed=2)
    assert qonnx_execute(out, x).shape == (64, 24)


def test_constants_go_second_for_commutative_ops():
    inits = [helper.make_tensor("b", TensorProto.FLOAT, [3], [0.5, -0.25, 1.0])]
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Add", ["b", "xq"], ["y"], name="bias_first")]
    model = shaped(make_model(nodes, inits, [1, 3], [1, 3]))
    out = applied(model, SortCommutativeInputsInitializerLast())
    assert list(out.graph.node[1].input) == ["xq", "b"]
    same_meaning(model, out)


def test_pooling_and_wiring_passes_leave_a_plain_dense_alone():
    model = weight_quant_model().transform(FoldConstantQuants())
    for transformation in (LowerSetPooling(), LowerGraphWiring(), SinkTransposes()):
        assert [n.SerializeToString() for n in applied(model, transformation).graph.node] == \
            [n.SerializeToString() for n in model.graph.node]


def test_canonicalize_is_the_ordered_list_of_passes():
    assert [p.__name__ for p in PASSES] == ["FoldConstantQuants", "TabulateFunctions", "SortCommutativeInputsInitializerLast",
                                            "BatchFreeReshapes", "Conv1x1ToMatMul", "SinkTransposes",
                                            "LowerSetPooling", "LowerGraphWiring", "SinkTransposes", "ExactMeans"]


def test_tabulate_functions_replaces_function_and_output_quant_by_one_table():
    from l1forge.compiler.passes.tables import TabulateFunctions

    from tests.graphs import quantized_function

    model = shaped(quantized_function("Tanh", out_scale=2.0**-7))
    out = applied(model, TabulateFunctions())
    assert ops(model) == ["Quant", "Tanh", "Quant"] and ops(out) == ["Quant", "Table"]
    assert out.graph.node[1].input[0] == out.graph.node[0].output[0] and out.graph.node[1].output[0] == "y"
    same_meaning(model, out)


def test_exact_means_moves_the_division_to_the_quantizer():
    from l1forge.compiler.passes.division import ExactMeans

    from tests.graphs import quantized_mean

    model = shaped(quantized_mean(6, "HALF_UP"))
    out = applied(model, ExactMeans())
    assert ops(model) == ["Quant", "ReduceMean", "Quant"] and ops(out) == ["Quant", "ReduceSum", "DivQuant"]
    assert [a.i for a in out.graph.node[2].attribute if a.name == "divisor"] == [6]
    same_meaning(model, out)
    power_of_two = shaped(quantized_mean(8, "HALF_UP"))  # exact as it is: left alone
    assert ops(applied(power_of_two, ExactMeans())) == ["Quant", "ReduceMean", "Quant"]
