"""Reading a Keras 2 model without TensorFlow: the `model_config` JSON and `model_weights/<layer>/...`
of an `.h5` file (h5py), or an in-memory model duck-typed (`.to_json()`, per-layer `.get_weights()`);
the layer list in graph order with each layer's inbound names."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ...errors import L1ForgeError


def layer_error(layer: dict, what: str) -> L1ForgeError:
    return L1ForgeError(f"layer '{layer['name']}' ({layer['class_name']}): {what}")


def read_keras(source) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """(model config, weights per layer name in get_weights() order) from an .h5 path or a
    Keras model object."""
    if hasattr(source, "to_json") and not isinstance(source, (str, Path)):
        config = json.loads(source.to_json())
        layers = getattr(source, "layers", None)
        if layers is None:
            raise L1ForgeError(f"{type(source).__name__}: a Keras model must have .layers with .get_weights()")
        weights = {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in layers}
        return config, weights
    path = Path(source)
    if not path.is_file():
        raise L1ForgeError(f"{path}: no such Keras model file")
    if path.suffix == ".keras" or zipfile.is_zipfile(path):
        raise L1ForgeError(f"{path}: a Keras 3 '.keras' archive is not supported; save the model with tf_keras / "
                           "Keras 2 as '.h5' (model.save('model.h5')) or pass the loaded model object")
    import h5py

    if not h5py.is_hdf5(path):
        raise L1ForgeError(f"{path}: not an HDF5 (.h5) Keras model file")
    try:
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                raise L1ForgeError(f"{path}: no 'model_config' attribute (a weights-only file?); save the whole "
                                   "model with model.save('model.h5')")
            raw = f.attrs["model_config"]
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            group = f["model_weights"] if "model_weights" in f else f
            weights = {}
            for name in group:
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in group[name].attrs.get("weight_names", [])]
                weights[name] = [np.asarray(group[name][n]) for n in names]
    except (OSError, KeyError, ValueError) as exc:
        raise L1ForgeError(f"{path}: unreadable Keras .h5 file ({type(exc).__name__}: {exc})") from None
    return config, weights


def _inbound_names(layer: dict) -> list[str]:
    """Names of the layers feeding a Functional layer (Keras 2 and Keras 3 config formats)."""
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise layer_error(layer, f"called {len(nodes)} times (a shared layer), which is not supported")
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}} holding __keras_tensor__ entries
        found: list[str] = []

        def collect(obj):
            if isinstance(obj, dict):
                if obj.get("class_name") == "__keras_tensor__":
                    found.append(obj["config"]["keras_history"][0])
                else:
                    for v in obj.values():
                        collect(v)
            elif isinstance(obj, list):
                for v in obj:
                    collect(v)
        collect(node.get("args", []))
        return found
    return [entry[0] for entry in node]


def layer_list(config: dict) -> tuple[list[dict], list[str], str, list | None]:
    """(layers with 'inputs', input layer names, output layer name, input shape when no
    InputLayer) for a Functional or Sequential config."""
    kind = config.get("class_name")
    body = config.get("config", {})
    if kind in ("Functional", "Model"):
        layers = []
        for raw in body.get("layers", []):
            layer = {"class_name": raw["class_name"], "name": raw.get("name") or raw["config"]["name"],
                     "config": raw.get("config", {})}
            layer["inputs"] = _inbound_names({**layer, "inbound_nodes": raw.get("inbound_nodes")})
            layers.append(layer)
        ins, outs = (body.get(k, []) for k in ("input_layers", "output_layers"))
        ins, outs = ([e] if e and isinstance(e[0], str) else e for e in (ins, outs))  # Keras 3: one flat [name, 0, 0]
        ins = [e[0] for e in ins]
        if len(ins) != 1 or len(outs) != 1:
            raise L1ForgeError(f"model '{body.get('name')}': {len(ins)} inputs and {len(outs)} outputs; "
                               "l1forge compiles models with one input and one output")
        return layers, ins, outs[0][0], None
    if kind == "Sequential":
        raw_layers = body["layers"] if isinstance(body, dict) else body
        layers, prev, shape = [], None, None
        for raw in raw_layers:
            cfg = raw.get("config", {})
            layer = {"class_name": raw["class_name"], "name": cfg.get("name", raw.get("name")), "config": cfg}
            if prev is None and raw["class_name"] != "InputLayer":
                shape = cfg.get("batch_input_shape") or cfg.get("batch_shape") or (
                    body.get("build_input_shape") if isinstance(body, dict) else None)
                if shape is None:
                    raise L1ForgeError("Sequential model without an input shape; build it (model.build) or start "
                                       "it with an Input layer")
                layers.append({"class_name": "InputLayer", "name": "input", "config": {"batch_input_shape": shape},
                               "inputs": []})
                prev = "input"
            layer["inputs"] = [prev] if prev is not None else []
            layers.append(layer)
            prev = layer["name"]
        if not layers:
            raise L1ForgeError("Sequential model without layers")
        return layers, [layers[0]["name"]], prev, shape
    raise L1ForgeError(f"model class {kind!r} is not supported; give a Functional or Sequential Keras model")
