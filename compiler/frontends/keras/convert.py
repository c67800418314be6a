"""Building the QONNX graph of a Keras layer list: one Quant per QKeras quantizer, the input
quantizer from `input_type`, a float last Dense quantized to `final_type` (or refused), a trailing
Softmax dropped; what was changed is recorded in the model's metadata."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from ...errors import L1ForgeError
from ...ir.fixed import FixedSpec, FixedType
from .quantizers import KERAS_ACTIVATIONS, QUANTIZER_DEFAULTS, QuantSpec, auto_po2_kernel, parse_quantizer, quantizer_spec
from .reading import layer_error, layer_list, read_keras

NOTES_KEY = "l1forge.keras_frontend_notes"
LAYERS_KEY = "l1forge.keras_layer_tensors"  # Keras layer name -> the QONNX tensor holding its output
FLOAT_FINAL_KEY = "l1forge.keras_float_final"  # the float final layer the frontend quantized (float_final_layer)
QUANT_DOMAIN = "qonnx.custom_op.general"

SUPPORTED_LAYERS = ("InputLayer", "Dense", "QDense", "Conv1D", "QConv1D", "Activation", "ReLU", "QActivation",
                    "Softmax", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Concatenate")
WEIGHTED = ("Dense", "QDense", "Conv1D", "QConv1D")

PAPER_INPUT_TYPE = FixedSpec(FixedType(True, 12, 8), "AP_RND", "AP_SAT")
HLS4ML_DEFAULT_TYPE = FixedSpec(FixedType(True, 16, 10), "AP_TRN", "AP_WRAP")  # hls4ml's fixed<16,6>


class _Graph:
    """Nodes, initializers and per-tensor shapes (batch first, batch 1) of the graph being built."""

    def __init__(self):
        self.nodes, self.inits, self.shapes = [], [], {}

    def const(self, name: str, value: np.ndarray) -> str:
        value = np.asarray(value, dtype=np.float32)
        self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, list(value.shape), value.ravel().tolist()))
        return name

    def node(self, op: str, inputs: list[str], out: str, shape: list[int], name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        self.shapes[out] = list(shape)
        return out

    def quant(self, inp: str, q: QuantSpec, name: str, shape: list[int]) -> str:
        params = [self.const(f"{name}_scale", np.float32(2.0 ** -q.frac)), self.const(f"{name}_zeropt", 0.0),
                  self.const(f"{name}_bitwidth", float(q.bits))]
        self.nodes.append(helper.make_node("Quant", [inp] + params, [name], name=name, domain=QUANT_DOMAIN,
                                           rounding_mode=q.rounding, signed=int(q.signed), narrow=int(q.narrow)))
        self.shapes[name] = list(shape)
        return name


def _fixed_quant(spec: FixedSpec) -> QuantSpec:
    return QuantSpec(frac=spec.type.frac, bits=spec.type.width, signed=spec.type.signed, narrow=spec.narrow,
                     rounding=spec.qonnx_rounding)


class _Converter:
    def __init__(self, config, weights, input_type, final_layer, final_type, softmax):
        body = config.get("config")
        self.model_name = str(body.get("name") or "keras_model") if isinstance(body, dict) else "keras_model"
        self.layers, self.inputs, self.output, self.seq_shape = layer_list(config)
        self.by_name = {layer["name"]: layer for layer in self.layers}
        self.weights = weights
        self.input_type, self.final_layer, self.final_type, self.softmax = input_type, final_layer, final_type, softmax
        self.graph = _Graph()
        self.notes: list[str] = []
        self.tensor: dict[str, str] = {}
        self.float_final: dict | None = None
        self.softmax_ok, self.final = self._ends()

    def _ends(self) -> tuple[set[str], str | None]:
        """The layers whose softmax may be dropped (those after which only softmax or linear
        layers follow) and the last layer with weights (the one final_layer='quantize' may
        quantize), walking back from the output."""
        name, ok = self.output, set()
        layer = self.by_name.get(name)
        while layer is not None:
            ok.add(name)
            act = layer["config"].get("activation")
            if not (layer["class_name"] == "Softmax" or (layer["class_name"] == "Activation"
                                                         and act in ("softmax", "linear"))) \
                    or len(layer["inputs"]) != 1:
                break
            name = layer["inputs"][0]
            layer = self.by_name.get(name)
        while layer is not None and layer["class_name"] not in WEIGHTED and len(layer["inputs"]) == 1:
            layer = self.by_name.get(layer["inputs"][0])
        return ok, (layer["name"] if layer is not None and layer["class_name"] in WEIGHTED else None)

    def run(self) -> ModelWrapper:
        for layer in self._ordered():
            if layer["class_name"] not in SUPPORTED_LAYERS:
                raise layer_error(layer, f"layer type not supported by the Keras frontend (supported: "
                                          f"{', '.join(SUPPORTED_LAYERS)})")
            getattr(self, "_" + layer["class_name"].lower())(layer, [self.tensor[i] for i in layer["inputs"]])
        out = self.tensor[self.output]
        g = self.graph
        if out == "input":
            raise L1ForgeError("the model's output is its input: nothing to compile")
        for node in g.nodes:  # the model's output tensor is called "output"
            for i, name in enumerate(node.input):
                if name == out:
                    node.input[i] = "output"
            for i, name in enumerate(node.output):
                if name == out:
                    node.output[i] = "output"
        g.shapes["output"] = g.shapes[out]
        layer_tensors = {name: ("output" if t == out else t) for name, t in self.tensor.items()}
        graph = helper.make_graph(
            g.nodes, self.model_name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, g.shapes["input"])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, g.shapes["output"])],
            initializer=g.inits)
        proto = qonnx_make_model(graph, producer_name="l1forge-keras-frontend",
                                 opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QUANT_DOMAIN, 1)])
        props = {NOTES_KEY: json.dumps(self.notes), LAYERS_KEY: json.dumps(layer_tensors)}
        if self.float_final is not None:
            if self.tensor[self.float_final["layer"]] != out:  # layers follow it: no float logits from its weights
                self.float_final = {k: self.float_final[k] for k in ("layer", "type")}
            props[FLOAT_FINAL_KEY] = json.dumps(self.float_final)
        helper.set_model_props(proto, props)
        return ModelWrapper(proto)

    def _ordered(self) -> list[dict]:
        """The layers the output depends on, in an order where inputs come first."""
        order, state = [], {}

        def visit(name, stack):
            if name not in self.by_name:
                raise L1ForgeError(f"layer '{stack[-1]}' reads layer '{name}', which the model config does not define")
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                raise L1ForgeError(f"layer '{name}' is part of a cycle")
            state[name] = "active"
            for i in self.by_name[name]["inputs"]:
                visit(i, stack + [name])
            state[name] = "done"
            order.append(self.by_name[name])
        visit(self.output, [self.output])
        return order

    # ---- layers -----------------------------------------------------------------------------

    def _shape(self, tensor: str) -> list[int]:
        return self.graph.shapes[tensor]

    def _inputlayer(self, layer, ins):
        cfg = layer["config"]
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape") or self.seq_shape
        if shape is None or any(d is None or int(d) <= 0 for d in list(shape)[1:]):
            raise layer_error(layer, f"input shape {shape} must be fully known (except the batch size)")
        self.graph.shapes["input"] = [1] + [int(d) for d in list(shape)[1:]]
        t = "input"
        if self.input_type is not None:
            q = _fixed_quant(self.input_type)
            t = self.graph.quant(t, q, f"{layer['name']}_quant", self.graph.shapes["input"])
            self.notes.append(f"input: quantized to {self.input_type} (Keras models have no input quantizer)"
                              + ("; AP_RND is built as qonnx HALF_UP, which rounds a negative exact half-step "
                                 "away from zero instead of toward +inf" if self.input_type.rounding == "AP_RND"
                                 else ""))
        else:
            self.notes.append("input: no input quantizer (input_type=None); the first layer must quantize it")
        self.tensor[layer["name"]] = t

    def _weights(self, layer) -> list[np.ndarray]:
        w = self.weights.get(layer["name"])
        if w is None:
            raise layer_error(layer, "no weights found for this layer in the model file")
        return w

    def _dense(self, layer, ins):
        self._weighted(layer, ins, quantized=False)

    def _qdense(self, layer, ins):
        self._weighted(layer, ins, quantized=True)

    def _conv1d(self, layer, ins):
        self._weighted(layer, ins, quantized=False, conv=True)

    def _qconv1d(self, layer, ins):
        self._weighted(layer, ins, quantized=True, conv=True)

    def _weighted(self, layer, ins, quantized: bool, conv: bool = False):
        cfg, name = layer["config"], layer["name"]
        (x,) = ins
        shape = self._shape(x)
        w = self._weights(layer)
        use_bias = cfg.get("use_bias", True)
        if len(w) != (2 if use_bias else 1):
            raise layer_error(layer, f"expected {'kernel and bias' if use_bias else 'a kernel'}, found {len(w)} "
                                      "arrays")
        kernel = np.asarray(w[0], dtype=np.float32)
        if conv:
            ks = cfg.get("kernel_size", [1])
            if list(ks) != [1] or kernel.shape[0] != 1:
                raise layer_error(layer, f"kernel_size {ks}: only kernel size 1 (a per-element Dense) is supported")
            if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
                raise layer_error(layer, "only channels_last, groups=1 convolutions are supported")
            if list(cfg.get("strides", [1])) != [1]:
                raise layer_error(layer, f"strides {cfg.get('strides')}: only stride 1 is supported")
            kernel = kernel[0]
            if len(shape) != 3:
                raise layer_error(layer, f"expects a (steps, channels) input, got shape {shape[1:]}")
        if kernel.ndim != 2 or kernel.shape[0] != shape[-1]:
            raise layer_error(layer, f"kernel shape {kernel.shape} does not fit input features {shape[-1]}")
        final = name == self.final
        g = self.graph
        kq_id = cfg.get("kernel_quantizer") if quantized else None
        bq_id = cfg.get("bias_quantizer") if quantized else None
        float_parts = [p for p, q in (("kernel", kq_id), ("bias", bq_id if use_bias else 0)) if q is None]
        if float_parts:
            if not final:
                raise layer_error(layer, f"float {' and '.join(float_parts)} (no quantizer); l1forge compiles fixed "
                                          "point only: use QDense/QConv1D with kernel_quantizer and bias_quantizer "
                                          "(only the last layer can be quantized by the frontend)")
            if self.final_layer == "keep-float":
                raise layer_error(layer, f"the final layer has float {' and '.join(float_parts)}; l1forge compiles "
                                          "fixed point only: use final_layer='quantize' (to final_type, default "
                                          f"{HLS4ML_DEFAULT_TYPE} like hls4ml) or quantize it in QKeras")
        out_shape = shape[:-1] + [kernel.shape[1]]
        saturated = []
        k = self._param(layer, "kernel", kernel, kq_id, saturated)
        t = g.node("MatMul", [x, k], f"{name}_matmul", out_shape, name)
        if use_bias:
            b = self._param(layer, "bias", np.asarray(w[1], dtype=np.float32), bq_id, saturated)
            t = g.node("Add", [t, b], f"{name}_bias_add", out_shape, f"{name}_bias")
        if float_parts:
            self.notes.append(f"layer '{name}' ({layer['class_name']}): float {' and '.join(float_parts)} quantized "
                              f"to {self.final_type} (final_layer='quantize')"
                              + (f"; {sum(saturated)} value(s) saturated" if sum(saturated) else ""))
        activation = cfg.get("activation", "linear")
        if float_parts:
            self.float_final = {"layer": name, "type": str(self.final_type)}
            if len(float_parts) == len(w) and activation in ("linear", "softmax", "relu", None):  # all of it float
                self.float_final.update(input=x, kernel=kernel.astype(np.float64).tolist(),
                                        bias=np.asarray(w[1], np.float64).tolist() if use_bias else None,
                                        relu=activation == "relu")
        self.tensor[name] = self._apply_activation(layer, t, activation)

    def _param(self, layer, role: str, value: np.ndarray, qid, saturated: list[int]) -> str:
        """The constant input of a MatMul/Add: the float value behind a Quant node, or the
        quantized values themselves (auto_po2 kernels)."""
        g, name = self.graph, layer["name"]
        if qid is None:  # the final float layer, final_layer='quantize' (checked by the caller)
            q = _fixed_quant(self.final_type)
            lo, hi = self.final_type.type.min_int + int(q.narrow), self.final_type.type.max_int
            m = value.astype(np.float64) * 2.0 ** q.frac
            over = int(np.sum((m < lo) | (m >= hi + 1)))
            if over and self.final_type.saturation == "AP_WRAP":
                raise layer_error(layer, f"{over} float {role} value(s) overflow {self.final_type}, which wraps; "
                                          "choose a wider final_type or one with AP_SAT")
            saturated.append(over)
            return g.quant(g.const(f"{name}_{role}", value), q, f"{name}_{role}_quant", list(value.shape))
        qname, kwargs = parse_quantizer(qid, layer)
        if role == "kernel" and qname == "quantized_bits" and kwargs.get("alpha", None) in (None, "auto_po2"):
            p = {**QUANTIZER_DEFAULTS["quantized_bits"], **kwargs}
            quantizer_spec(qname, {**kwargs, "alpha": None}, layer, f"{role} quantizer")  # the other parameters' checks
            why = "alpha=None (QDense/QConv1D turn it into 'auto_po2')" if kwargs.get("alpha") is None else \
                "alpha='auto_po2'"
            self.notes.append(f"layer '{name}' ({layer['class_name']}): {role} quantizer {why}: per-channel "
                              "power-of-two scales computed from the weights as QKeras does, folded into the kernel")
            q = auto_po2_kernel(value, int(p["bits"]), int(p["integer"]), bool(p["keep_negative"]))
            return g.const(f"{name}_{role}_auto_po2", q)
        q = quantizer_spec(qname, kwargs, layer, f"{role} quantizer")
        if isinstance(q, str):
            raise layer_error(layer, f"{role} quantizer {q!r} is an activation, not a quantizer")
        if q.relu:
            raise layer_error(layer, f"{role} quantizer quantized_relu: a ReLU on weights is not supported")
        if q.alpha != 1.0:  # alpha * Q(w) == Quant(alpha * w) on the grid scaled by alpha (alpha = 2**k: exact)
            value = value * np.float32(q.alpha)
            q = replace(q, frac=q.frac - int(np.frexp(q.alpha)[1] - 1), alpha=1.0)
        return g.quant(g.const(f"{name}_{role}", value), q, f"{name}_{role}_quant", list(value.shape))

    def _apply_activation(self, layer, t: str, identifier) -> str:
        """Apply a layer's activation (Keras name or QKeras quantizer) to tensor t."""
        if identifier in (None, "linear"):
            return t
        name, kwargs = parse_quantizer(identifier, layer)
        spec = quantizer_spec(name, kwargs, layer, "activation")
        g, lname, shape = self.graph, layer["name"], self._shape(t)
        if spec == "linear":
            return t
        if spec == "softmax":
            return self._drop_softmax(layer, t)
        if spec == "relu":
            return g.node("Relu", [t], f"{lname}_relu", shape, f"{lname}_relu")
        if spec.alpha != 1.0:
            raise layer_error(layer, f"activation quantizer with alpha={spec.alpha:g}: QKeras scales the quantized "
                                      "value after rounding, which has no exact layer here (use alpha=1 or None)")
        if spec.relu:
            t = g.node("Relu", [t], f"{lname}_relu", shape, f"{lname}_relu")
        if isinstance(identifier, str) and len(identifier.split("(")) > 2:
            self.notes.append(f"layer '{lname}' ({layer['class_name']}): QKeras' safe_eval reads the nested string "
                              f"{identifier!r} as {name}() with its defaults, {spec.describe()}; converted so")
        return g.quant(t, spec, f"{lname}_quant", shape)

    def _drop_softmax(self, layer, t: str) -> str:
        if layer["name"] not in self.softmax_ok:
            raise layer_error(layer, "softmax inside the network is not supported (only a final softmax, dropped)")
        if self.softmax != "drop":
            raise layer_error(layer, "a softmax cannot be compiled exactly; use softmax='drop' (the firmware emits "
                                      "the logits; the argmax is unchanged)")
        self.notes.append(f"layer '{layer['name']}' ({layer['class_name']}): softmax dropped, the firmware outputs the "
                          "logits (argmax unchanged)")
        return t

    def _qactivation(self, layer, ins):
        (x,) = ins
        self.tensor[layer["name"]] = self._apply_activation(layer, x, layer["config"].get("activation"))

    def _activation(self, layer, ins):
        (x,) = ins
        act = layer["config"].get("activation")
        if act not in KERAS_ACTIVATIONS:
            raise layer_error(layer, f"activation {act!r} is not supported (supported: "
                                      f"{', '.join(KERAS_ACTIVATIONS)})")
        self.tensor[layer["name"]] = self._apply_activation(layer, x, act)

    def _relu(self, layer, ins):
        (x,) = ins
        cfg = layer["config"]
        if cfg.get("max_value") is not None or float(cfg.get("negative_slope") or 0) != 0 \
                or float(cfg.get("threshold") or 0) != 0:
            raise layer_error(layer, "only the plain ReLU (no max_value, negative_slope or threshold) is supported")
        self.tensor[layer["name"]] = self.graph.node("Relu", [x], f"{layer['name']}_out", self._shape(x), layer["name"])

    def _softmax(self, layer, ins):
        (x,) = ins
        self.tensor[layer["name"]] = self._drop_softmax(layer, x)

    def _pool(self, layer, ins, op: str):
        (x,) = ins
        cfg, shape = layer["config"], self._shape(x)
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise layer_error(layer, "only channels_last pooling is supported")
        if len(shape) != 3:
            raise layer_error(layer, f"expects a (steps, features) input, got shape {shape[1:]}")
        keep = bool(cfg.get("keepdims", False))
        out_shape = [shape[0], 1, shape[2]] if keep else [shape[0], shape[2]]
        self.tensor[layer["name"]] = self.graph.node(op, [x], f"{layer['name']}_out", out_shape, layer["name"],
                                                     axes=[1], keepdims=int(keep))

    def _globalaveragepooling1d(self, layer, ins):
        self._pool(layer, ins, "ReduceMean")

    def _globalmaxpooling1d(self, layer, ins):
        self._pool(layer, ins, "ReduceMax")

    def _concatenate(self, layer, ins):
        shapes = [self._shape(t) for t in ins]
        rank = len(shapes[0])
        axis = int(layer["config"].get("axis", -1))
        axis = axis + rank if axis < 0 else axis
        if len(ins) < 2 or axis < 1 or axis >= rank or any(len(s) != rank for s in shapes) or any(
                s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:] for s in shapes):
            raise layer_error(layer, f"cannot concatenate shapes {[s[1:] for s in shapes]} on axis {axis}")
        out_shape = list(shapes[0])
        out_shape[axis] = sum(s[axis] for s in shapes)
        self.tensor[layer["name"]] = self.graph.node("Concat", list(ins), f"{layer['name']}_out", out_shape,
                                                     layer["name"], axis=axis)


def convert_keras_config(config: dict, weights: dict[str, list[np.ndarray]], *,
                         input_type=PAPER_INPUT_TYPE, final_layer: str = "quantize",
                         final_type=HLS4ML_DEFAULT_TYPE, softmax: str = "drop") -> ModelWrapper:
    """QONNX model from a Keras model config (the `model_config` JSON as a dict) and its weights
    (layer name -> arrays in get_weights() order). Options as for load_keras."""
    if final_layer not in ("quantize", "keep-float"):
        raise L1ForgeError(f"final_layer must be 'quantize' or 'keep-float', got {final_layer!r}")
    if softmax not in ("drop", "error"):
        raise L1ForgeError(f"softmax must be 'drop' or 'error', got {softmax!r}")
    in_spec = None if input_type is None else FixedSpec.parse(input_type, PAPER_INPUT_TYPE)
    if in_spec is not None and in_spec.saturation == "AP_WRAP":
        raise L1ForgeError(f"input_type {in_spec}: the input quantizer must saturate (AP_SAT or AP_SAT_SYM)")
    out_spec = FixedSpec.parse(final_type, HLS4ML_DEFAULT_TYPE)
    try:
        return _Converter(config, weights, in_spec, final_layer, out_spec, softmax).run()
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise L1ForgeError(f"Keras model config not understood ({type(exc).__name__}: {exc}); the frontend reads "
                           "Keras 2 / tf_keras Functional and Sequential configs") from exc


def load_keras(source, *, input_type=PAPER_INPUT_TYPE, final_layer: str = "quantize",
               final_type=HLS4ML_DEFAULT_TYPE, softmax: str = "drop") -> ModelWrapper:
    """A QKeras / Keras model (.h5 path, or an in-memory model with to_json() and per-layer
    get_weights()) as a QONNX ModelWrapper, without importing TensorFlow.

    input_type: the input quantizer (ap_fixed string, (width, integer) or FixedSpec; None for
    none), default the seed paper's ap_fixed<12,4,AP_RND,AP_SAT>. final_layer: 'quantize' puts a
    float last Dense's weights and bias on final_type (default hls4ml's fixed<16,6>, AP_TRN),
    'keep-float' refuses such a layer. softmax: 'drop' removes a final softmax (the output is
    the logits), 'error' refuses it. conversion_notes(model) lists what was changed.
    """
    config, weights = read_keras(source)
    return convert_keras_config(config, weights, input_type=input_type, final_layer=final_layer,
                                final_type=final_type, softmax=softmax)


def _metadata(model: ModelWrapper, key: str):
    for prop in model.model.metadata_props:
        if prop.key == key:
            return json.loads(prop.value)
    return None


def conversion_notes(model: ModelWrapper) -> list[str]:
    """What the Keras frontend changed or chose (input quantizer, quantized final layer,
    dropped softmax, QKeras parsing quirks), as stored in the model's metadata."""
    return list(_metadata(model, NOTES_KEY) or [])


def layer_tensors(model: ModelWrapper) -> dict[str, str]:
    """Keras layer name -> the QONNX tensor that holds that layer's output (a layer that only
    dropped a softmax maps to its input's tensor)."""
    return dict(_metadata(model, LAYERS_KEY) or {})


def float_final_layer(model: ModelWrapper) -> dict | None:
    """The float final layer the frontend quantized (final_layer='quantize'): {layer, type (the
    final_type)}, plus its float weights {input (tensor), kernel, bias, relu} when the float
    output relu?(input @ kernel + bias) is the model's output (all its weights float, activation
    linear/softmax/relu, no layer after it). None when no float layer was quantized."""
    return _metadata(model, FLOAT_FINAL_KEY)
