"""Keras / QKeras frontend without TensorFlow: the seed paper's trained deep sets compile
bit-exactly, QKeras 0.9.0's quantizer semantics (values pinned from QKeras itself), bad inputs.

QKeras itself (TensorFlow) is compared in tests/test_keras_check.py.
"""
from __future__ import annotations

import json
import sys
import zipfile

import h5py
import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir.fixed import FixedSpec
from l1forge.compiler.frontends.keras import (auto_po2_kernel, conversion_notes, convert_keras_config,
                                      load_keras)
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model

from tests.samples import anchors_dir, paper4_in_numpy, paper_model

FINE_INPUT = "ap_fixed<26,10,AP_RND_CONV,AP_SAT>"  # 2**-16 grid: identity on the test values below


def grid_inputs(n: int, n_const: int = 8, seed: int = 0) -> np.ndarray:
    """On the paper's input grid ap_fixed<12,4>, extremes included."""
    x = np.random.default_rng(seed).integers(-2048, 2048, (n, n_const, 3)) / 256.0
    x[0], x[1] = -8.0, 2047 / 256.0
    return x


@pytest.mark.tools
@pytest.mark.parametrize("bits", [4, 6])
def test_paper_deepsets_compile_bit_exact(bits, tmp_path):
    before = set(sys.modules)
    model = load_keras(paper_model(bits))
    assert not [m for m in set(sys.modules) - before if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")]
    notes = conversion_notes(model)
    assert notes[0].startswith("input: quantized to ap_fixed<12,4,AP_RND,AP_SAT> (Keras models have no input "
                               "quantizer); AP_RND is built as qonnx HALF_UP")
    assert sum("safe_eval" in n and "ap_ufixed<8,0,AP_RND_CONV,AP_SAT>" in n for n in notes) == 4
    assert "layer 'dense' (Dense): float kernel and bias quantized to ap_fixed<16,6,AP_TRN,AP_WRAP>" in notes[5]
    assert "softmax dropped" in notes[6]
    report = compile_model(model, tmp_path / "fw", data=grid_inputs(300), n_random=2000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
    assert report["verification"]["samples"] == 2300
    layers = report["layers"]
    # the paper's ap_fixed<12,4,AP_RND,AP_SAT> as qonnx can say it: ties away from zero (AP_RND_INF)
    assert layers[0]["precision"] == {"result": "ap_fixed<12,4,AP_RND_INF,AP_SAT>"}
    relus = [l["precision"]["result"] for l in layers if l["class"] == "Activation"]
    # as the paper's hls4ml_config.yml: ufixed<8,0,RND_CONV,SAT> after each ReLU, then fixed<12,4,RND_CONV,SAT>
    assert relus == ["ap_ufixed<8,0,AP_RND_CONV,AP_SAT>"] * 3 + ["ap_fixed<12,4,AP_RND_CONV,AP_SAT>",
                                                                 "ap_ufixed<8,0,AP_RND_CONV,AP_SAT>"]


def test_paper_model_matches_qkeras_formulas_in_numpy():
    """The emulated firmware's logits equal the 4-bit deep set computed by QKeras' formulas, the
    float last Dense on fixed<16,6> (AP_TRN), to the last bit."""
    x = grid_inputs(2000)
    h, (kernel, bias) = paper4_in_numpy(x)
    logits = h @ (np.floor(kernel * 1024) / 1024) + np.floor(bias * 1024) / 1024
    ours = emulate(canonicalize(load_keras(paper_model(4))), x)
    np.testing.assert_array_equal(ours, logits)


def sequential(*layers, shape=(4,)):
    """A Keras 2 Sequential model config: InputLayer then (class_name, name, config) layers."""
    return {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, *shape], "name": "in"}}] + [
        {"class_name": c, "config": {"name": n, **cfg}} for c, n, cfg in layers]}}


def qactivation(identifier, x, input_type=FINE_INPUT):
    model = convert_keras_config(sequential(("QActivation", "qa", {"activation": identifier}), shape=(len(x),)), {},
                                 input_type=input_type)
    return emulate(canonicalize(model), np.asarray([x], dtype=np.float64))[0]


# (QKeras identifier, inputs, QKeras 0.9.0's outputs as printed by TensorFlow 2.21)
QKERAS_VALUES = [
    ("quantized_bits(4,0,alpha=1)", [-1.5, -1.0, -0.9375, -0.0625, 0.0625, 0.1875, 0.3125, 0.8125, 0.9375, 3.0],
     [-1.0, -1.0, -1.0, 0.0, 0.0, 0.25, 0.25, 0.75, 0.875, 0.875]),  # ties to even, then saturate
    ("quantized_bits(4,0,1,alpha=1)", [-1.5, -0.9375, 0.9375], [-0.875, -0.875, 0.875]),  # symmetric: narrow
    ("quantized_bits(5,1,keep_negative=False)", [-0.5, 0.03125, 0.09375, 2.5], [0.0, 0.0, 0.125, 1.9375]),
    ("quantized_relu(3,1)", [-1.0, 0.125, 0.375, 2.0], [0.0, 0.0, 0.5, 1.75]),
    ("quantized_relu(quantized_bits(4, 0, alpha=1), 0)", [0.3, 0.001953125, 0.005859375, 1.5],
     [0.30078125, 0.0, 0.0078125, 0.99609375]),  # the paper's string: quantized_relu() = 8 bits
    ({"class_name": "quantized_bits", "config": {"bits": 12, "integer": 3, "symmetric": 0, "alpha": None,
                                                 "keep_negative": 1, "use_stochastic_rounding": False,
                                                 "qnoise_factor": 1.0}, "__passive_serialization__": True},
     [-9.0, 0.001953125, 0.005859375, 7.999], [-8.0, 0.0, 0.0078125, 7.99609375]),
]


@pytest.mark.parametrize("identifier,x,expected", QKERAS_VALUES)
def test_quantizers_compute_what_qkeras_computes(identifier, x, expected):
    np.testing.assert_array_equal(qactivation(identifier, x), expected)


def test_auto_po2_kernel_as_qkeras():
    k = np.array([[0.3, -0.02, 0.0], [-0.7, 0.011, 0.0], [0.05, 0.004, 0.0]], np.float32)
    # qkeras.quantized_bits(4, 0, alpha="auto_po2")(k): per-column power-of-two scales
    expected = [[0.25, -0.01953125, 0.0], [-0.75, 0.01171875, 0.0], [0.0, 0.00390625, 0.0]]
    np.testing.assert_array_equal(auto_po2_kernel(k, 4, 0), expected)


def test_qdense_kernel_without_alpha_is_auto_po2_and_alpha_scales_weights():
    k = np.array([[0.3, -0.02, 0.0], [-0.7, 0.011, 0.0], [0.05, 0.004, 0.0]], np.float32)
    b = np.array([0.3, -0.6, 1.7], np.float32)
    cfg = sequential(("QDense", "d", {"units": 3, "activation": "linear", "use_bias": True,
                                      "kernel_quantizer": "quantized_bits(4,0)",
                                      "bias_quantizer": "quantized_bits(4,1,alpha=0.5)"}), shape=(3,))
    model = convert_keras_config(cfg, {"d": [k, b]}, input_type="ap_fixed<8,4,AP_RND_CONV,AP_SAT>")
    assert any("alpha=None (QDense/QConv1D turn it into 'auto_po2')" in n for n in conversion_notes(model))
    out = emulate(canonicalize(model), np.eye(3))
    bq = 0.5 * np.clip(np.round(b * 4), -8, 7) / 4  # alpha scales after rounding: 0.5 * quantized_bits(4,1)
    np.testing.assert_array_equal(out, auto_po2_kernel(k, 4, 0) + bq)


@pytest.mark.tools
def test_functional_mix_and_duck_typed_model_compile(tmp_path):
    """QConv1D (k=1) -> GlobalMax/AveragePooling1D -> Concatenate -> QDense through hls4ml, given
    as an in-memory object with to_json() and per-layer get_weights()."""
    rng = np.random.default_rng(3)
    q6 = {"class_name": "quantized_bits", "config": {"bits": 6, "integer": 0, "symmetric": 0, "alpha": 1,
                                                     "keep_negative": True, "use_stochastic_rounding": False,
                                                     "qnoise_factor": 1.0}}

    def layer(cls, name, inputs, **cfg):
        return {"class_name": cls, "name": name, "config": {"name": name, **cfg},
                "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []}
    config = {"class_name": "Functional", "config": {"name": "mix", "layers": [
        layer("InputLayer", "x", [], batch_input_shape=[None, 8, 3]),
        layer("QConv1D", "c1", ["x"], kernel_size=[1], strides=[1], activation="quantized_relu(6,1)",
              use_bias=True, kernel_quantizer=q6, bias_quantizer=q6),
        layer("GlobalMaxPooling1D", "pmax", ["c1"], data_format="channels_last", keepdims=False),
        layer("GlobalAveragePooling1D", "pavg", ["c1"], data_format="channels_last", keepdims=False),
        layer("Concatenate", "cat", ["pmax", "pavg"], axis=-1),
        layer("QDense", "out", ["cat"], units=4, activation="linear", use_bias=True, kernel_quantizer=q6,
              bias_quantizer=q6),
        layer("Activation", "sm", ["out"], activation="softmax")],
        "input_layers": [["x", 0, 0]], "output_layers": [["sm", 0, 0]]}}
    weights = {"c1": [rng.normal(0, 0.5, (1, 3, 6)).astype(np.float32), rng.normal(0, 0.3, 6).astype(np.float32)],
               "out": [rng.normal(0, 0.5, (12, 4)).astype(np.float32), rng.normal(0, 0.3, 4).astype(np.float32)]}

    class Layer:
        def __init__(self, name):
            self.name = name

        def get_weights(self):
            return weights.get(self.name, [])

    class FakeKerasModel:
        layers = [Layer(n) for n in ("x", "c1", "pmax", "pavg", "cat", "out", "sm")]

        def to_json(self):
            return json.dumps(config)

    model = load_keras(FakeKerasModel())
    report = compile_model(model, tmp_path / "fw", n_random=2000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
    assert [l["class"] for l in report["layers"]] == ["InputLayer", "Dense", "Activation", "GlobalMaxPooling1D",
                                                      "GlobalAveragePooling1D", "Concatenate", "Dense"]


def test_fixed_type_strings():
    assert str(FixedSpec.parse("ufixed<8,0,RND_CONV,SAT>", FixedSpec.parse("fixed<16,6>", None))) == \
        "ap_ufixed<8,0,AP_RND_CONV,AP_SAT>"
    assert str(FixedSpec.parse((10, 3), FixedSpec.parse("ap_fixed<12,4,AP_RND,AP_SAT>", None))) == \
        "ap_fixed<10,3,AP_RND,AP_SAT>"


def one_line_error(match, fn, *args, **kwargs):
    with pytest.raises(L1ForgeError, match=match) as err:
        fn(*args, **kwargs)
    assert "\n" not in str(err.value)


def test_unsupported_layer_is_named():
    cfg = sequential(("Conv2D", "conv", {"filters": 4, "kernel_size": [3, 3]}), shape=(8, 8, 1))
    one_line_error(r"layer 'conv' \(Conv2D\): layer type not supported", convert_keras_config, cfg, {})


@pytest.mark.parametrize("identifier,match", [
    ("quantized_po2(4)", r"layer 'qa' \(QActivation\): activation 'quantized_po2' is not supported"),
    ("binary()", r"'binary' is not supported"),
    ("quantized_bits(4,0,alpha='auto')", r"alpha='auto': the scale depends on the data"),
    ("quantized_bits(4,0,alpha=0.3)", r"only a power of two scale"),
    ("quantized_bits(4,0,alpha=2)", r"alpha=2: QKeras scales the quantized value after rounding"),
    ("quantized_relu(4,0,negative_slope=0.25)", r"negative_slope=0.25 \(leaky\)"),
    ("quantized_bits(4,-1)", r"integer=-1 < 0, which QKeras 0.9.0 itself cannot evaluate"),
    ("quantized_bits(4,0,qnoise_factor=0.5)", r"qnoise_factor=0.5"),
    ("tanh", r"'tanh' is not supported"),
])
def test_unsupported_quantizer_is_named(identifier, match):
    cfg = sequential(("QActivation", "qa", {"activation": identifier}))
    one_line_error(match, convert_keras_config, cfg, {})


def test_keras3_archive_and_weights_only_files_are_refused(tmp_path):
    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("config.json", "{}")
    one_line_error(r"Keras 3 '\.keras' archive is not supported", load_keras, archive)
    weights_only = tmp_path / "weights.h5"
    with h5py.File(weights_only, "w") as f:
        f.create_group("dense")
    one_line_error(r"no 'model_config' attribute", load_keras, weights_only)
    (tmp_path / "junk.h5").write_text("not hdf5")
    one_line_error(r"not an HDF5", load_keras, tmp_path / "junk.h5")


def test_float_layers_and_inner_softmax_are_refused():
    one_line_error(r"layer 'dense' \(Dense\): the final layer has float kernel and bias.*final_layer='quantize'",
                   load_keras, paper_model(4), final_layer="keep-float")
    one_line_error(r"layer 'softmax' \(Softmax\): a softmax cannot be compiled exactly", load_keras, paper_model(4),
                   softmax="error")
    w = [np.ones((4, 4), np.float32), np.zeros(4, np.float32)]
    cfg = sequential(("Dense", "d1", {"units": 4, "activation": "relu"}),
                     ("Dense", "d2", {"units": 4, "activation": "linear"}))
    one_line_error(r"layer 'd1' \(Dense\): float kernel and bias \(no quantizer\)", convert_keras_config, cfg,
                   {"d1": w, "d2": w})
    cfg = sequential(("Softmax", "sm", {"axis": -1}), ("QActivation", "qa", {"activation": "quantized_bits(4,0)"}))
    one_line_error(r"layer 'sm' \(Softmax\): softmax inside the network", convert_keras_config, cfg, {})


@pytest.mark.tools
def test_compile_takes_the_h5_file_and_reports_the_frontend_notes(tmp_path):
    from l1forge.compiler.cli import main

    out = tmp_path / "fw"
    assert main(["compile", str(paper_model(6)), "--out", str(out), "--n-random", "1000"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == "deepsets_6bit_8const_vu13p_5ns_hls2020.1"
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 1000
    assert any(n.startswith("keras frontend: layer 'dense' (Dense): float kernel and bias quantized")
               for n in report["notes"])
    change = report["final_layer_quantization"]  # figures recomputed in test_keras_check
    assert change["layer"] == "dense" and change["samples"] == 1000 and "accuracy_float" not in change
    assert (f"final layer 'dense' quantized to ap_fixed<16,6,AP_TRN,AP_WRAP>: argmax unchanged on "
            f"{100 * change['argmax_agreement']:.2f}% of 1,000 inputs") in (out / "report.md").read_text()
    assert 'id="final-layer-quantization"' in (out / "report.html").read_text()
    assert main(["compile", str(paper_model(6)), "--out", str(tmp_path / "no"), "--final-layer", "keep-float"]) == 1
    assert not (tmp_path / "no").exists()


@pytest.mark.tools
@pytest.mark.parametrize("n_const", [16, 32])
def test_paper_8bit_deepsets_at_16_and_32_constituents_compile_bit_exact(n_const, tmp_path):
    path = anchors_dir() / f"deepsets_8bit_{n_const}const_config_only_no_reports" / "keras_model.h5"
    model = load_keras(path)
    assert model.get_tensor_shape(model.graph.input[0].name) == [1, n_const, 3]
    report = compile_model(model, tmp_path / "fw", data=grid_inputs(500, n_const=n_const), n_random=1500,
                           log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 2000
