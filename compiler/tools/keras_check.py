"""A (Q)Keras model along three paths, compared layer by layer on the same inputs:

* QKeras: the model's own forward pass (tf_keras, QKeras 0.9) - what was trained;
* hls4ml: hls4ml's Keras converter on the same .h5 (the route the seed paper took), run in its
  bit-accurate C simulation with every layer traced;
* hls4ml-prequantized: the same, from a copy of the .h5 whose QDense/QConv1D weights were
  replaced by QKeras' quantized values (separates hls4ml's weight handling from its arithmetic);
* l1forge: the Keras frontend's QONNX graph, cut after each layer and emulated exactly (compile
  proves the firmware equal to this graph).

All three get the same inputs on the input quantizer's grid (Keras models have no input
quantizer). The comparison needs the optional `keras` extra (TensorFlow, tf_keras, QKeras):
`pip install 'l1forge[keras]'`. TensorFlow is imported in legacy-Keras mode
(TF_USE_LEGACY_KERAS=1), which must be set before anything imports it; `l1forge keras-check` does
that. `final_layer_change` (used by compile) measures what quantizing a float last layer changed,
without TensorFlow.
"""
from __future__ import annotations

import os
import re
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..errors import L1ForgeError
from ..quiet import silenced_stderr
from ..frontends.keras import float_final_layer, load_keras, layer_tensors

# hls4ml's own default config comes from config_from_keras_model, which fails on tf_keras models
# once Keras 3 is installed (hls4ml 1.3 then takes its Keras 3 parser); a config written without
# the per-layer types it derives from the quantizers would not be hls4ml's path.
NO_HLS_CONFIG = ("no --hls4ml-config given (hls4ml 1.3's config_from_keras_model cannot read tf_keras models "
                 "while Keras 3 is installed)")
PATHS = ("qkeras", "l1forge", "hls4ml", "hls4ml-prequantized")
PAIRS = (("l1forge", "qkeras"), ("hls4ml", "qkeras"), ("hls4ml-prequantized", "qkeras"), ("l1forge", "hls4ml"))


def _first_line(exc: BaseException) -> str:
    """An exception as '<Class>: <first line of its message>', for one-line errors."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _import_qkeras():
    """tensorflow (legacy Keras 2 mode) and qkeras, or a clear error naming the extra."""
    if "tensorflow" not in sys.modules:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    elif os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise L1ForgeError("TensorFlow was imported before TF_USE_LEGACY_KERAS=1 was set; QKeras needs legacy Keras "
                           "(run in a fresh process, e.g. `l1forge keras-check`)")
    try:
        with silenced_stderr():  # TensorFlow's C++ start-up logs (CUDA probing, oneDNN notice)
            import qkeras  # noqa: F401
            import tensorflow as tf
            from qkeras.utils import _add_supported_quantized_objects
    except ImportError as exc:
        raise L1ForgeError(f"comparing with QKeras needs the keras extra ({exc}); install it: "
                           "pip install 'l1forge[keras]'") from None
    objects: dict = {}
    _add_supported_quantized_objects(objects)
    return tf, objects


def load_qkeras(h5: Path):
    """The .h5 model as QKeras itself loads it (tf_keras)."""
    tf, objects = _import_qkeras()
    try:
        return tf.keras.models.load_model(str(h5), custom_objects=objects, compile=False)
    except Exception as exc:  # e.g. an .h5 written by Keras 3
        raise L1ForgeError(f"{h5}: QKeras (tf_keras) cannot load it ({_first_line(exc)})") from None


def qkeras_outputs(keras_model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output (but the input layer's) from QKeras' forward pass, float64."""
    import tensorflow as tf

    layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    probe = tf.keras.Model(keras_model.inputs, [layer.output for layer in layers])
    outs = probe.predict(np.asarray(x, np.float32), batch_size=4096, verbose=0)
    return {layer.name: np.asarray(out, np.float64) for layer, out in zip(layers, outs)}


def paper_hls_config(yml: Path) -> dict:
    """The HLSConfig section of an hls4ml_config.yml as hls4ml writes it (its `!keras_model` tag
    line is skipped). ConvImplementation 'Pointwise' (hls4ml < 1.0) is dropped: hls4ml 1.3 refuses
    it and picks its pointwise kernel for kernel-size-1 convolutions by itself (same arithmetic)."""
    import yaml

    if not Path(yml).is_file():
        raise L1ForgeError(f"{yml}: no such hls4ml config file")
    text = re.sub(r"^\s*KerasModel:.*$", "", Path(yml).read_text(), flags=re.M)
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise L1ForgeError(f"{yml}: not a YAML file ({str(exc).splitlines()[0]})") from None
    hls = (config or {}).get("HLSConfig")
    if not isinstance(hls, dict):
        raise L1ForgeError(f"{yml}: no HLSConfig section")
    for layer in (hls.get("LayerName") or {}).values():
        if isinstance(layer, dict) and layer.get("ConvImplementation") == "Pointwise":
            del layer["ConvImplementation"]
    return hls


def traced(hls_config: dict, keras_model) -> dict:
    """A copy of an HLSConfig with Trace on for every Keras layer and for the activation layers
    hls4ml splits off them (hls4ml traces only layers configured so)."""
    import copy

    config = copy.deepcopy(hls_config)
    names = config.setdefault("LayerName", {})
    for layer in keras_model.layers:
        entry = names.setdefault(layer.name, {})
        if isinstance(entry, dict):
            entry["Trace"] = True
    config.setdefault("LayerType", {}).setdefault("Activation", {})["Trace"] = True
    return config


def hls4ml_keras_model(h5: Path, out_dir: Path, hls_config: dict, part: str, clock_ns: float):
    """hls4ml's Keras v2 converter on the .h5 (hls4ml reads it with h5py; its QKeras layer
    handlers need qkeras importable), with a final Softmax left out: the firmware's output is
    the logits, as l1forge's, and hls4ml 1.3 emits C++ that does not compile for a Keras
    `Softmax` layer (a call to `softmax_configN` where it declares `Softmax_configN`). Driven
    through hls4ml's lower-level API (get_model_arch, parse_keras_model,
    ModelGraph.from_layer_list), which is what keras_v2_to_hls runs, minus that layer."""
    _import_qkeras()
    from hls4ml.converters.keras_v2_to_hls import get_model_arch, parse_keras_model
    from hls4ml.model import ModelGraph

    config = {"KerasH5": str(h5), "OutputDir": str(out_dir), "ProjectName": "myproject", "Backend": "Vivado",
              "Part": part, "ClockPeriod": clock_ns, "IOType": "io_parallel", "HLSConfig": hls_config}
    arch, reader = get_model_arch(config)
    layers, inputs, _, _ = parse_keras_model(arch, reader)
    while layers and layers[-1]["class_name"] == "Softmax":  # a Softmax layer, or one split off a Dense
        layers.pop()
    try:
        with warnings.catch_warnings():  # hls4ml's own notices (attribute overrides in its pointwise pass)
            warnings.simplefilter("ignore", UserWarning)
            return ModelGraph.from_layer_list(config, layers, inputs, [layers[-1]["name"]])
    except Exception as exc:
        raise L1ForgeError(f"hls4ml's Keras converter failed on {h5} ({_first_line(exc)}); --skip-hls4ml "
                           "compares QKeras and l1forge only") from exc


def prequantized_h5(keras_model, h5: Path, out: Path) -> Path:
    """A copy of the .h5 whose quantized layers hold QKeras' quantized kernels and biases
    (layer.kernel_quantizer_internal applied to the float weights)."""
    import shutil

    import h5py

    shutil.copyfile(h5, out)
    with h5py.File(out, "r+") as f:
        for layer in keras_model.layers:
            group = f["model_weights"].get(layer.name, {}).get(layer.name)
            for role in ("kernel", "bias"):
                quantizer = getattr(layer, f"{role}_quantizer_internal", None)
                if quantizer is not None and group is not None and f"{role}:0" in group:
                    group[f"{role}:0"][...] = np.asarray(quantizer(getattr(layer, role)))
    return out


def hls4ml_outputs(hls_model, x: np.ndarray, keras_layers) -> dict[str, np.ndarray]:
    """Each Keras layer's output from hls4ml's C simulation (compiled with g++, every layer
    traced). hls4ml splits a layer's built-in activation into a layer of its own, named
    `<layer>_<activation>`, whose output is the Keras layer's output."""
    from l1forge.hw.sim.hls_csim import HlsCSimulator

    sim = HlsCSimulator(SimpleNamespace(hls_model=hls_model))
    try:
        sim.build()
        trace = sim.trace(x)
    except Exception as exc:
        raise L1ForgeError(f"hls4ml's C simulation did not build or run ({_first_line(exc)})") from exc
    keras_layers = set(keras_layers)
    outputs = {}
    for name in keras_layers:
        split = [k for k in trace if k.startswith(name + "_") and k not in keras_layers and k != name + "_linear"]
        key = split[-1] if split else name
        if key in trace:
            outputs[name] = trace[key]
    return outputs


def _emulated(model, tensor: str, x: np.ndarray) -> np.ndarray:
    """The exact values of one tensor of the frontend's graph (the graph cut there, emulated)."""
    from ..ir.emulator import emulate
    from ..ir.model import upstream_model
    from ..passes.canonicalize import canonicalize

    return emulate(canonicalize(upstream_model(model, tensor)), x)


def l1forge_outputs(model, x: np.ndarray, layers) -> dict[str, np.ndarray]:
    """Each Keras layer's output in the frontend's QONNX graph, emulated exactly."""
    tensors = layer_tensors(model)
    return {name: _emulated(model, tensors[name], x) for name in layers}


def final_layer_change(frontend_model, model, data, labels, n_random: int, seed: int) -> dict | None:
    """What quantizing a Keras model's float final layer (final_layer='quantize') changed, on the
    verification inputs (data, then n_random grid inputs; `model` is the canonical form): the
    argmax agreement and largest logit change against the float layer (float64 on the exact
    inputs of that layer), and with labels the accuracy of both. None when the frontend quantized
    no float layer; {layer, type, not_measured: why} when layers follow it or only part of it was
    float."""
    from l1forge.hw.sim.cosim import verification_inputs

    from ..ir.emulator import emulate

    final = float_final_layer(frontend_model)
    if final is None:
        return None
    if "kernel" not in final:
        return {**final, "not_measured": "layers follow it or only part of its weights were float"}
    x = verification_inputs(frontend_model, data, n_random, seed)
    if not len(x):
        return None
    h = _emulated(frontend_model, final["input"], x)
    logits = h @ np.asarray(final["kernel"]) + (0.0 if final["bias"] is None else np.asarray(final["bias"]))
    if final["relu"]:
        logits = np.maximum(logits, 0.0)
    quantized = emulate(model, x)
    n = len(x)
    pred_float, pred_quant = logits.reshape(n, -1).argmax(1), quantized.reshape(n, -1).argmax(1)
    change = {"layer": final["layer"], "type": final["type"], "samples": n,
              "argmax_agreement": float((pred_float == pred_quant).mean()),
              "max_abs_logit_change": float(np.max(np.abs(logits.reshape(n, -1) - quantized.reshape(n, -1)))),
              "source": "emulator (quantized layer) vs the float layer in float64 on the same layer inputs"}
    if labels is not None and data is not None:
        y, k = np.asarray(labels), len(data)
        change["accuracy_float"] = float((pred_float[:k] == y).mean())
        change["accuracy_quantized"] = float((pred_quant[:k] == y).mean())
        change["labelled_samples"] = int(k)
    return change


def _row_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.all(a.reshape(len(a), -1) == b.reshape(len(b), -1), axis=1)


def compare_keras_paths(h5: Path, *, n_random: int = 10000, data: np.ndarray | None = None,
                        hls_config: dict | None = None, work_dir: Path | None = None,
                        part: str = "xcvu13p-flga2577-2-e", clock_ns: float = 5.0, keras_options: dict | None = None,
                        skip_hls4ml: bool = False, seed: int = 0, log=print) -> dict:
    """Run the three paths on the same inputs (data, then n_random grid inputs, all quantized
    by the frontend's input quantizer) and compare every layer's output. hls_config: hls4ml's
    HLSConfig (e.g. paper_hls_config(yml)); without it hls4ml's path is skipped. Returns {samples, layers: [{layer, class,
    equal: {"l1forge=qkeras": fraction of inputs with that layer's output identical, ...},
    max_abs_diff: {...}}], argmax_agreement: {...}, l1forge_equals_qkeras (every layer before a
    final layer the frontend quantized is identical on every input), first_divergent_layer,
    timings_s (l1forge: frontend and emulation; qkeras: with TensorFlow's import in a fresh
    process; hls4ml: both builds and runs)}."""
    from l1forge.hw.sim.cosim import verification_inputs

    h5 = Path(h5)
    if not h5.is_file():
        raise L1ForgeError(f"{h5}: no such file")
    if n_random < 0:
        raise L1ForgeError(f"--n-random must be >= 0, got {n_random}")
    timings = {}
    t0 = time.perf_counter()
    model = load_keras(h5, **(keras_options or {}))
    timings["l1forge_s"] = time.perf_counter() - t0
    tensors = layer_tensors(model)
    x = verification_inputs(model, data, n_random, seed)
    if not len(x):
        raise L1ForgeError("no inputs: give data or n_random > 0")
    x = _quantized_input(model, x)

    log(f"QKeras forward pass on {len(x)} inputs")
    t0 = time.perf_counter()
    keras_model = load_qkeras(h5)
    ref = qkeras_outputs(keras_model, x)
    timings["qkeras_s"] = time.perf_counter() - t0  # with TensorFlow's import in a fresh process
    classes = {layer.name: type(layer).__name__ for layer in keras_model.layers}
    softmax = {layer.name for layer in keras_model.layers  # dropped by l1forge and by the hls4ml path
               if classes[layer.name] == "Softmax" or layer.get_config().get("activation") == "softmax"}
    names = [n for n in ref if n in tensors and not (n in softmax and classes[n] in ("Softmax", "Activation"))]

    t1 = time.perf_counter()
    log("l1forge frontend: QONNX graph emulated layer by layer")
    outputs = {"qkeras": ref, "l1forge": l1forge_outputs(model, x, names)}
    timings["l1forge_s"] += time.perf_counter() - t1
    skipped = "--skip-hls4ml" if skip_hls4ml else None
    if hls_config is None and not skip_hls4ml:
        skipped = NO_HLS_CONFIG
        log(f"hls4ml path skipped: {NO_HLS_CONFIG}")
    if skipped is None:
        t2 = time.perf_counter()
        import tempfile

        hls_config = traced(hls_config, keras_model)
        with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
            log("hls4ml Keras converter: converting, compiling its C simulation (g++), as is and with "
                "QKeras-quantized weights")
            sources = {"hls4ml": h5, "hls4ml-prequantized": prequantized_h5(keras_model, h5, Path(tmp) / "preq.h5")}
            for path, source in sources.items():
                hls_model = hls4ml_keras_model(source, Path(tmp) / path, hls_config, part, clock_ns)
                outputs[path] = hls4ml_outputs(hls_model, x, names)
        timings["hls4ml_s"] = time.perf_counter() - t2

    rows = []
    for name in names:
        row = {"layer": name, "class": classes[name], "equal": {}, "max_abs_diff": {}}
        for a, b in PAIRS:
            if name in outputs.get(a, {}) and name in outputs.get(b, {}):
                va, vb = outputs[a][name].reshape(len(x), -1), outputs[b][name].reshape(len(x), -1)
                row["equal"][f"{a}={b}"] = float(_row_equal(va, vb).mean())
                row["max_abs_diff"][f"{a}={b}"] = float(np.max(np.abs(va - vb)))
        rows.append(row)
    last = names[-1]
    final = float_final_layer(model)
    # the layers l1forge must reproduce exactly: all before a float layer it quantized, but a
    # layer whose softmax it dropped
    exact = [n for n in (names[:names.index(final["layer"])] if final else names) if n not in softmax]
    diverged = [r["layer"] for r in rows if r["layer"] in exact and r["equal"].get("l1forge=qkeras") != 1.0]
    argmax = {f"{a}={b}": float((outputs[a][last].reshape(len(x), -1).argmax(1)
                                 == outputs[b][last].reshape(len(x), -1).argmax(1)).mean())
              for a, b in PAIRS if a in outputs and b in outputs and last in outputs[a] and last in outputs[b]}
    return {"model": str(h5), "samples": int(len(x)), "data_samples": 0 if data is None else int(len(data)),
            "paths": [p for p in PATHS if p in outputs], "layers": rows, "output_layer": last,
            "argmax_agreement": argmax, "exact_layers": exact, "quantized_final_layer": final and final["layer"],
            "l1forge_equals_qkeras": not diverged, "first_divergent_layer": diverged[0] if diverged else None,
            "hls4ml_skipped": skipped,
            "timings_s": {k: round(v, 2) for k, v in timings.items()}}


def _quantized_input(model, x: np.ndarray) -> np.ndarray:
    """x through the frontend's input quantizer (what every path is fed)."""
    first = model.find_consumer(model.graph.input[0].name)
    if first is None or first.op_type != "Quant":  # input_type=None: no input quantizer
        return np.asarray(x, np.float32)
    return _emulated(model, first.output[0], x).astype(np.float32)


def summary_table(result: dict) -> list[str]:
    """The comparison as text lines: per layer and pair of paths, the share of inputs whose
    layer output is identical, and the largest difference ("-": the layer is not in a path)."""
    pairs = [f"{a}={b}" for a, b in PAIRS if a in result["paths"] and b in result["paths"]]
    width = max(len(p) for p in pairs) + 2
    lines = [f"{result['samples']} inputs; per layer: share of inputs with an identical output (largest |difference|)",
             f"{'layer':<26}{'class':<24}" + "".join(f"{p:<{width}}" for p in pairs)]
    for row in result["layers"]:
        cells = "".join((f"{row['equal'][p]:.4f} ({row['max_abs_diff'][p]:.3g})" if p in row["equal"] else "-")
                        .ljust(width) for p in pairs)
        lines.append(f"{row['layer']:<26}{row['class']:<24}{cells}")
    if result.get("hls4ml_skipped"):
        lines.append(f"hls4ml's path skipped: {result['hls4ml_skipped']}")
    if result.get("quantized_final_layer"):
        lines.append(f"layer '{result['quantized_final_layer']}' is float in Keras and quantized by l1forge "
                     "(--final-type): its output differs by design")
    lines.append("argmax of the output: " + ", ".join(f"{p} {v:.4f}" for p, v in result["argmax_agreement"].items()))
    return lines
