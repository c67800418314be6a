"""The seed paper's QKeras deep sets along three paths (QKeras itself, hls4ml's Keras converter
with the paper's own hls4ml_config.yml, l1forge's frontend), layer by layer; what hls4ml 1.3
does to them; and what quantizing the float final layer changes.

TensorFlow runs in subprocesses only (`l1forge keras-check`, or a short script): it needs
TF_USE_LEGACY_KERAS=1 before its import, and keeps its threads out of the test process.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from l1forge.compiler.frontends.keras import float_final_layer, layer_tensors, load_keras
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.model import upstream_model
from l1forge.compiler.tools.keras_check import final_layer_change
from l1forge.compiler.passes.canonicalize import canonicalize

from tests.samples import REPO_ROOT, anchors_dir

L1FORGE = str(Path(sys.executable).with_name("l1forge"))


def paper_dir(bits: int, n_const: int = 8) -> Path:
    names = {(4, 8): "deepsets_4bit_8const_vu13p_5ns_hls2020.1", (6, 8): "deepsets_6bit_8const_vu13p_5ns_hls2020.1",
             (8, 16): "deepsets_8bit_16const_config_only_no_reports", (8, 32): "deepsets_8bit_32const_config_only_no_reports"}
    return anchors_dir() / names[(bits, n_const)]


def keras_check(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict | None]:
    out = tmp_path / "check.json"
    proc = subprocess.run([L1FORGE, "keras-check", *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=900)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def equal(result: dict, layer: str, pair: str) -> float:
    return next(r for r in result["layers"] if r["layer"] == layer)["equal"][pair]


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 6])
def test_paper_models_three_paths(bits, tmp_path):
    """12,000 inputs on the paper's input grid. l1forge equals QKeras at every layer; hls4ml's own
    path with the paper's config equals it at none (its weights are truncated, not QKeras-rounded);
    with QKeras' weights put in the file, hls4ml still differs (fixed<16,6> accumulators drop a
    fraction bit QKeras keeps), and l1forge's argmax stays closest to QKeras'."""
    d = paper_dir(bits)
    proc, result = keras_check([str(d / "keras_model.h5"), "--hls4ml-config", str(d / "hls4ml_config.yml"),
                                "--n-random", "12000"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "l1forge's graph equals QKeras' forward pass at every layer before the quantized final layer 'dense'" \
        in proc.stdout
    assert result["samples"] == 12000
    assert result["paths"] == ["qkeras", "l1forge", "hls4ml", "hls4ml-prequantized"]
    layers = [r["layer"] for r in result["layers"]]
    assert layers == ["phi1", "q_activation", "phi2", "q_activation_1", "phi3", "q_activation_2", "q_activation_3",
                      "global_average_pooling1d", "rho", "q_activation_4", "dense"]
    assert result["exact_layers"] == layers[:-1]
    for layer in layers[:-1]:
        assert equal(result, layer, "l1forge=qkeras") == 1.0, layer
        assert next(r for r in result["layers"] if r["layer"] == layer)["max_abs_diff"]["l1forge=qkeras"] == 0.0
        assert equal(result, layer, "hls4ml=qkeras") < 0.001, layer
        assert equal(result, layer, "hls4ml-prequantized=qkeras") < 0.5, layer
    # the prequantized hls4ml path differs from QKeras by accumulator truncation only: less than
    # one LSB of fixed<16,6> per product term in the first layer
    phi1 = next(r for r in result["layers"] if r["layer"] == "phi1")
    assert 0 < phi1["max_abs_diff"]["hls4ml-prequantized=qkeras"] < 3 * 2 ** -10
    argmax = result["argmax_agreement"]
    assert argmax["l1forge=qkeras"] > 0.999
    assert argmax["l1forge=qkeras"] > argmax["hls4ml-prequantized=qkeras"] > argmax["hls4ml=qkeras"]
    assert argmax["hls4ml=qkeras"] < 0.95


@pytest.mark.slow
@pytest.mark.parametrize("n_const", [16, 32])
def test_paper_8bit_models_equal_qkeras(n_const, tmp_path):
    proc, result = keras_check([str(paper_dir(8, n_const) / "keras_model.h5"), "--skip-hls4ml", "--n-random", "12000"],
                               tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["paths"] == ["qkeras", "l1forge"] and result["l1forge_equals_qkeras"]
    assert all(equal(result, layer, "l1forge=qkeras") == 1.0 for layer in result["exact_layers"])
    assert len(result["exact_layers"]) == 10


HLS4ML_FACTS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from l1forge.compiler.tools.keras_check import hls4ml_keras_model, load_qkeras, paper_hls_config
    d, tmp = Path(sys.argv[1]), Path(sys.argv[2])
    keras_model = load_qkeras(d / "keras_model.h5")
    hls = hls4ml_keras_model(d / "keras_model.h5", tmp / "prj", paper_hls_config(d / "hls4ml_config.yml"),
                             "xcvu13p-flga2577-2-e", 5)
    facts = {}
    for name in ("phi1", "rho"):
        layer, hl = keras_model.get_layer(name), next(l for l in hls.get_layers() if l.name == name)
        facts[name] = {"class": hl.class_name}
        for role, hls_role in (("kernel", "weight"), ("bias", "bias")):
            raw = getattr(layer, role).numpy().ravel()
            quantized = np.asarray(getattr(layer, role + "_quantizer_internal")(getattr(layer, role))).ravel()
            data = np.asarray(hl.weights[hls_role].data).ravel()
            assert not np.array_equal(raw, quantized)
            facts[name][role] = {"raw": bool(np.array_equal(data, raw)), "quantized": bool(np.array_equal(data, quantized)),
                                 "quantizer": hl.get_attr(hls_role + "_quantizer") is not None}
    # hls4ml's own converter, Softmax included: the C++ it writes
    from hls4ml.converters.keras_v2_to_hls import keras_v2_to_hls
    import re
    cfg = {"KerasH5": str(d / "keras_model.h5"), "OutputDir": str(tmp / "full"), "ProjectName": "myproject",
           "Backend": "Vivado", "Part": "xcvu13p-flga2577-2-e", "IOType": "io_parallel",
           "HLSConfig": paper_hls_config(d / "hls4ml_config.yml")}
    keras_v2_to_hls(cfg).write()
    cpp = (tmp / "full" / "firmware" / "myproject.cpp").read_text()
    params = (tmp / "full" / "firmware" / "parameters.h").read_text()
    call = re.search(r"softmax<[^;]*?,\\s*(\\w+)>", cpp).group(1)
    facts["softmax_config_in_call"] = call
    facts["softmax_config_declared"] = bool(re.search(r"struct\\s+" + call + r"\\b", params))
    try:
        cfg2 = {**cfg, "OutputDir": str(tmp / "pointwise"),
                "HLSConfig": {"Model": {"Precision": "fixed<16,6>", "ReuseFactor": 1},
                              "LayerName": {"phi1": {"ConvImplementation": "Pointwise"}}}}
        keras_v2_to_hls(cfg2)
        facts["pointwise_refused"] = False
    except Exception as exc:
        facts["pointwise_refused"] = "conv_implementation" in str(exc)
        facts["pointwise_error"] = str(exc)[:300]
    print(json.dumps(facts))
""")


@pytest.mark.slow
def test_hls4ml_keras_converter_bugs_on_the_paper_model(tmp_path):
    """Pinned hls4ml 1.3 behaviour that keras_check works around or reports:
    - a QDense over a set (3-D input) is rewritten to Conv1D without its QKeras weight and bias
      quantizers, so its float weights and biases are truncated to the layer's type instead of rounded as QKeras does
      (the 2-D QDense 'rho' keeps its quantizer);
    - a Keras `Softmax` layer yields C++ calling an undeclared config struct (does not compile);
    - the paper's ConvImplementation 'Pointwise' (hls4ml < 1.0) is refused."""
    proc = subprocess.run([sys.executable, "-c", HLS4ML_FACTS, str(paper_dir(4)), str(tmp_path)], capture_output=True,
                          text=True, timeout=600, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    lost = {"raw": True, "quantized": False, "quantizer": False}
    kept = {"raw": False, "quantized": True, "quantizer": True}
    assert facts["phi1"] == {"class": "PointwiseConv1D", "kernel": lost, "bias": lost}
    assert facts["rho"] == {"class": "Dense", "kernel": kept, "bias": kept}
    assert facts["softmax_config_in_call"].startswith("softmax_config")
    assert not facts["softmax_config_declared"]
    assert facts["pointwise_refused"], facts.get("pointwise_error")


@pytest.mark.tools
def test_keras_check_errors_are_one_line(tmp_path):
    proc, _ = keras_check([str(tmp_path / "missing.h5"), "--skip-hls4ml"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.h5'}: no such file"]
    bad = tmp_path / "bad.yml"
    bad.write_text("Backend: Vivado\n")
    proc, _ = keras_check([str(paper_dir(4) / "keras_model.h5"), "--hls4ml-config", str(bad)], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {bad}: no HLSConfig section"]
    assert not (tmp_path / "check.json").exists()


def grid_inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-2048, 2048, (n, 8, 3)) / 256.0


def test_frontend_records_each_layer_tensor_and_upstream_model_cuts_there():
    model = load_keras(paper_dir(4) / "keras_model.h5")
    tensors = layer_tensors(model)
    assert tensors["dense"] == tensors["softmax"] == "output"
    assert tensors["q_activation"] == "q_activation_quant"
    x = grid_inputs(500)
    full = emulate(canonicalize(model), x, all_tensors=True)
    cut = upstream_model(model, tensors["global_average_pooling1d"])
    assert [o.name for o in cut.graph.output] == ["global_average_pooling1d_out"]
    assert not any(n.name.startswith(("rho", "dense", "q_activation_4")) for n in cut.graph.node)
    pooled = emulate(canonicalize(cut), x)
    # the same values the full model computes at that point (its ReduceMean output)
    mean = next(v for k, v in full.items() if k.startswith("ReduceMean"))
    np.testing.assert_array_equal(pooled, mean.lo.astype(np.float64) * 2.0 ** -mean.frac)


def test_final_layer_change_against_the_float_layer_in_numpy():
    """The report's figures for quantizing the paper's float Dense, recomputed from the h5 with
    QKeras' formulas in numpy (tests/test_keras_frontend.paper4_in_numpy)."""
    from l1forge.hw.sim.cosim import grid_inputs as on_grid

    from tests.samples import paper4_in_numpy

    model = load_keras(paper_dir(4) / "keras_model.h5")
    final = float_final_layer(model)
    assert final["layer"] == "dense" and final["type"] == "ap_fixed<16,6,AP_TRN,AP_WRAP>"
    data, labels = grid_inputs(300, seed=5), np.arange(300) % 5
    change = final_layer_change(model, canonicalize(model), data, labels, n_random=1000, seed=0)
    x = np.concatenate([data, on_grid(model, 1000, 0).astype(np.float64)])
    h, (kernel, bias) = paper4_in_numpy(x)
    float_logits = h @ kernel + bias
    quantized = h @ (np.floor(kernel * 1024) / 1024) + np.floor(bias * 1024) / 1024
    assert change["samples"] == 1300
    assert change["argmax_agreement"] == float((float_logits.argmax(1) == quantized.argmax(1)).mean())
    assert change["max_abs_logit_change"] == pytest.approx(float(np.abs(float_logits - quantized).max()), rel=1e-12)
    assert 0 < change["max_abs_logit_change"] < 0.05  # weights and bias on a 2**-10 grid, 32 inputs below 1
    assert change["accuracy_float"] == float((float_logits[:300].argmax(1) == labels).mean())
    assert change["accuracy_quantized"] == float((quantized[:300].argmax(1) == labels).mean())
    assert final_layer_change(model, canonicalize(model), None, None, n_random=0, seed=0) is None


BUILD_SMALL_MODELS = textwrap.dedent("""
    import os, sys
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # QKeras runs on tf_keras
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits
    out = sys.argv[1]
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    q6 = lambda: quantized_bits(6, 0, alpha=1)
    # Sequential without an InputLayer, float last Dense with a built-in softmax
    tf.keras.Sequential([QDense(8, input_shape=(6,), kernel_quantizer=q6(), bias_quantizer=q6()),
                         QActivation("quantized_relu(6,0)"), L.Dense(4, activation="softmax")]
                        ).save(f"{out}/sequential_softmax_dense.h5")
    # float last Dense followed by a ReLU layer
    x = L.Input((4, 3))
    h = QDense(8, kernel_quantizer=q6(), bias_quantizer=q6(), name="phi")(x)
    h = QActivation("quantized_relu(8,0)", name="act")(h)
    h = L.GlobalAveragePooling1D(name="pool")(h)
    h = L.Dense(3, name="head")(h)
    tf.keras.Model(x, L.ReLU(name="final_relu")(h)).save(f"{out}/functional_final_relu.h5")
    # fully quantized, a quantized_relu built into a QDense, no softmax
    x = L.Input((4,))
    h = QDense(6, kernel_quantizer=q6(), bias_quantizer=q6(), activation="quantized_relu(6,2)", name="inline")(x)
    tf.keras.Model(x, QDense(3, kernel_quantizer=q6(), bias_quantizer=q6(), name="out")(h)
                   ).save(f"{out}/quantized_inline_activation.h5")
""")

# Wide enough that hls4ml computes these small layers exactly; the ReLU quantizer as QKeras'.
EXACT_HLS_CONFIG = """\
HLSConfig:
  Model: {Precision: "fixed<24,8>", ReuseFactor: 1, Strategy: Latency}
  LayerName:
    inline_quantized_relu: {Precision: {result: "ufixed<6,2,RND_CONV,SAT>"}}
"""


@pytest.mark.slow
def test_keras_check_on_other_model_shapes(tmp_path):
    """Small QKeras models built by QKeras itself: no InputLayer, a softmax built into the last
    Dense, layers after the quantized float layer, a fully quantized model with an activation
    inside a QDense (hls4ml splits it off; its traced output is the Keras layer's)."""
    proc = subprocess.run([sys.executable, "-c", BUILD_SMALL_MODELS, str(tmp_path)], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]

    proc, result = keras_check([str(tmp_path / "sequential_softmax_dense.h5"), "--n-random", "3000"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["exact_layers"] == ["q_dense", "q_activation"] and result["quantized_final_layer"] == "dense"
    assert result["l1forge_equals_qkeras"] and result["paths"] == ["qkeras", "l1forge"]
    assert "config_from_keras_model" in result["hls4ml_skipped"]
    assert result["argmax_agreement"]["l1forge=qkeras"] > 0.99  # softmax is monotone: logits vs probabilities

    proc, result = keras_check([str(tmp_path / "functional_final_relu.h5"), "--n-random", "3000",
                                "--skip-hls4ml"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["exact_layers"] == ["phi", "act", "pool"] and result["quantized_final_layer"] == "head"
    assert [r["layer"] for r in result["layers"]][-2:] == ["head", "final_relu"]

    config = tmp_path / "hls4ml_config.yml"
    config.write_text(EXACT_HLS_CONFIG)
    proc, result = keras_check([str(tmp_path / "quantized_inline_activation.h5"), "--n-random", "3000",
                                "--hls4ml-config", str(config)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert result["exact_layers"] == ["inline", "out"] and result["quantized_final_layer"] is None
    for layer in ("inline", "out"):
        assert equal(result, layer, "l1forge=qkeras") == 1.0
        assert equal(result, layer, "hls4ml=qkeras") == 1.0, layer
        assert equal(result, layer, "l1forge=hls4ml") == 1.0, layer

    from l1forge.compiler.pipeline import compile_model

    report = compile_model(tmp_path / "functional_final_relu.h5", tmp_path / "fw", n_random=500, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"
    assert report["final_layer_quantization"] == {"layer": "head", "type": "ap_fixed<16,6,AP_TRN,AP_WRAP>",
                                                  "not_measured": "layers follow it or only part of its weights "
                                                                  "were float"}
    report = compile_model(tmp_path / "quantized_inline_activation.h5", tmp_path / "fw2", n_random=500,
                           log=lambda m: None)
    assert "final_layer_quantization" not in report
