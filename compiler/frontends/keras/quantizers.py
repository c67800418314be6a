"""QKeras 0.9.0 quantizer semantics: a quantizer identifier (string or serialized dict) -> the QONNX
Quant (QuantSpec) computing what QKeras computes at inference (see the package docstring)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.fixed import QONNX_TO_AP_ROUNDING, FixedType
from .reading import layer_error


@dataclass(frozen=True)
class QuantSpec:
    """One QONNX Quant: value = clip(round(x / scale), lo, hi) * scale (scale = 2**-frac)."""
    frac: int
    bits: int
    signed: bool
    narrow: bool = False
    rounding: str = "ROUND"
    relu: bool = False  # quantized_relu: a Relu before the Quant
    alpha: float = 1.0  # quantized_bits' alpha (a power of two): QKeras returns alpha * the quantized value

    def describe(self) -> str:
        """The equivalent ap_fixed type (QONNX ROUND, half to even, is AP_RND_CONV)."""
        rounding = QONNX_TO_AP_ROUNDING[self.rounding]
        return FixedType(self.signed, self.bits, self.frac).hls(rounding, "AP_SAT_SYM" if self.narrow else "AP_SAT")


QUANTIZER_ARGS = {  # constructor signatures of qkeras 0.9.0 (qkeras/quantizers.py)
    "quantized_bits": ("bits", "integer", "symmetric", "keep_negative", "alpha", "use_stochastic_rounding",
                       "scale_axis", "qnoise_factor", "var_name", "use_ste", "use_variables"),
    "quantized_relu": ("bits", "integer", "use_sigmoid", "negative_slope", "use_stochastic_rounding",
                       "relu_upper_bound", "is_quantized_clip", "qnoise_factor", "var_name", "use_ste",
                       "use_variables"),
}
QUANTIZER_DEFAULTS = {
    "quantized_bits": dict(bits=8, integer=0, symmetric=0, keep_negative=True, alpha=None,
                           use_stochastic_rounding=False, scale_axis=None, qnoise_factor=1.0),
    "quantized_relu": dict(bits=8, integer=0, use_sigmoid=0, negative_slope=0.0, use_stochastic_rounding=False,
                           relu_upper_bound=None, is_quantized_clip=True, qnoise_factor=1.0),
}
KERAS_ACTIVATIONS = ("linear", "relu", "softmax")


def _safe_eval_arg(text: str):
    """One argument as qkeras' safe_eval.GetArg reads it: bool, int, float or a quoted string."""
    text = text.strip()
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    raise ValueError(text)


def parse_quantizer(identifier, layer: dict) -> tuple[str, dict]:
    """(class or activation name, keyword arguments) as QKeras builds the quantizer from a layer
    config entry: a serialized dict, or a string read like qkeras/safe_eval.py, which splits at
    '(' and so builds a nested call's outer quantizer with its defaults."""
    if isinstance(identifier, dict):
        config = dict(identifier.get("config") or {})
        return str(identifier.get("class_name")), config
    if not isinstance(identifier, str):
        raise layer_error(layer, f"quantizer {identifier!r} is neither a string nor a serialized quantizer")
    parts = identifier.split("(")
    name = parts[0]
    if len(parts) != 2:  # no call, or a nested call: safe_eval calls the class without arguments
        return name, {}
    inner = parts[1].strip()
    if not inner.endswith(")"):
        raise layer_error(layer, f"quantizer string {identifier!r} is not a call")
    inner = inner[:-1].strip()
    args, kwargs = [], {}
    try:
        for item in [p for p in inner.split(",")] if inner else []:
            if "=" in item:
                key, value = item.split("=", 1)
                kwargs[key.strip()] = _safe_eval_arg(value)
            elif kwargs:
                raise ValueError(item)
            else:
                args.append(_safe_eval_arg(item))
    except ValueError:
        raise layer_error(layer, f"quantizer string {identifier!r}: cannot read its arguments as QKeras "
                                  "does") from None
    names = QUANTIZER_ARGS.get(name)
    if names is None:
        return name, {"__args__": args, **kwargs}
    if len(args) > len(names):
        raise layer_error(layer, f"quantizer string {identifier!r}: too many arguments for {name}")
    return name, {**dict(zip(names, args)), **kwargs}


def _integral(v) -> int | None:
    """v as an int when it is a whole number (QKeras takes 4 or 4.0 alike), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or float(v) != int(v):
        return None
    return int(v)


def _is_power_of_two(v: float) -> bool:
    m, _ = np.frexp(float(v))
    return v > 0 and m == 0.5


def quantizer_spec(name: str, kwargs: dict, layer: dict, role: str) -> QuantSpec | str:
    """A QuantSpec for a QKeras quantizer at inference, or the name of a plain Keras activation
    ('linear', 'relu', 'softmax'); L1ForgeError naming the layer otherwise."""
    if name in KERAS_ACTIVATIONS and not kwargs:
        return name
    if name not in QUANTIZER_ARGS:
        raise layer_error(layer, f"{role} {name!r} is not supported (supported: quantized_bits, quantized_relu, "
                                  f"{', '.join(KERAS_ACTIVATIONS)})")
    unknown = set(kwargs) - set(QUANTIZER_ARGS[name])
    if unknown:
        raise layer_error(layer, f"{role} {name}: unknown parameter(s) {', '.join(sorted(unknown))}")
    p = {**QUANTIZER_DEFAULTS[name], **{k: v for k, v in kwargs.items() if k in QUANTIZER_DEFAULTS[name]}}
    bits, integer = _integral(p["bits"]), _integral(p["integer"])
    if bits is None or integer is None or bits < 1:
        raise layer_error(layer, f"{role} {name}: bits={p['bits']!r}, integer={p['integer']!r} must be integers, "
                                  "bits >= 1")
    if integer < 0:  # K.pow(2, integer) raises for a negative integer in qkeras 0.9.0
        raise layer_error(layer, f"{role} {name}: integer={integer} < 0, which QKeras 0.9.0 itself cannot evaluate")
    if float(p["qnoise_factor"]) != 1.0:
        raise layer_error(layer, f"{role} {name}: qnoise_factor={p['qnoise_factor']} mixes float and quantized "
                                  "values; only 1.0 (fully quantized) is exact")
    if name == "quantized_relu":
        if p["use_sigmoid"]:
            raise layer_error(layer, f"{role} quantized_relu with use_sigmoid is not supported")
        if float(p["negative_slope"]) != 0.0:
            raise layer_error(layer, f"{role} quantized_relu with negative_slope={p['negative_slope']} "
                                      "(leaky) is not supported")
        if not p["is_quantized_clip"] and p["relu_upper_bound"] is not None \
                and p["relu_upper_bound"] < 2.0**integer * (1 - 2.0**-bits):
            raise layer_error(layer, f"{role} quantized_relu with relu_upper_bound={p['relu_upper_bound']} "
                                      "below its range is not supported")
        return QuantSpec(frac=bits - integer, bits=bits, signed=False, relu=True)
    keep_negative = 1 if p["keep_negative"] else 0
    unsigned_bits = bits - keep_negative
    if unsigned_bits < 1:
        raise layer_error(layer, f"{role} quantized_bits({bits}) with keep_negative is a binary (sign) "
                                  "quantizer, which is not supported")
    frac = unsigned_bits - integer
    alpha = p["alpha"]
    if isinstance(alpha, str):
        raise layer_error(layer, f"{role} quantized_bits with alpha={alpha!r}: the scale depends on the data "
                                  "(supported: alpha=None or a power of two; 'auto_po2' on QDense/QConv1D kernels)")
    if alpha is not None:
        if isinstance(alpha, (list, tuple)) or not _is_power_of_two(float(alpha)):
            raise layer_error(layer, f"{role} quantized_bits with alpha={alpha!r}: only a power of two scale "
                                      "keeps values on a fixed-point grid")
    narrow = bool(keep_negative and p["symmetric"])
    return QuantSpec(frac=frac, bits=bits, signed=bool(keep_negative), narrow=narrow,
                     alpha=1.0 if alpha is None else float(alpha))


def auto_po2_kernel(kernel: np.ndarray, bits: int, integer: int, keep_negative: bool = True) -> np.ndarray:
    """What qkeras 0.9.0's quantized_bits(bits, integer, alpha='auto_po2') returns for a constant
    kernel (channels-last, scale per output channel), computed in float32 in QKeras' order."""
    f32 = np.float32
    eps = f32(1e-7)  # keras.backend.epsilon()
    x = np.asarray(kernel, dtype=f32)
    axis = tuple(range(x.ndim - 1)) if x.ndim > 1 else (0,)
    m = f32(2.0 ** (bits - int(bool(keep_negative))))
    m_i = f32(2.0 ** integer)
    x = x / m_i
    levels = f32((2 ** (bits - 1) - 1) * 2)  # symmetric is forced for 'auto*'

    def po2(scale):
        return f32(2.0) ** np.round(np.log(scale + eps) / f32(np.log(2.0))).astype(f32)

    scale = po2(np.max(np.abs(x), axis=axis, keepdims=True) * f32(2) / levels)
    z = None
    for _ in range(5):
        v = np.floor(np.abs(x) / scale + f32(0.5))
        z = np.sign(x) * np.where(v < levels / 2, v, levels / 2).astype(f32)
        if x.ndim > 1:
            qx = np.mean(x * z, axis=axis, keepdims=True, dtype=f32)
            qq = np.mean(z * z, axis=axis, keepdims=True, dtype=f32)
        else:
            qx, qq = x * z, z * z
        scale = po2(qx / (qq + eps))
    return (m_i * z / m * (scale * m)).astype(f32)
