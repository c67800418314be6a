"""Keras / QKeras frontend: a QKeras 0.9 or plain Keras model -> QONNX (the shared IR), in three
modules: reading (config and weights), quantizers (QKeras semantics), convert (the graph).

Reads a Keras 2 `.h5` file with h5py (the `model_config` JSON and `model_weights/<layer>/...`) or
an in-memory model duck-typed (`.to_json()` and per-layer `.get_weights()`; tf_keras or Keras 3),
so TensorFlow is never imported. Each QKeras quantizer becomes a QONNX `Quant` node computing
what QKeras 0.9.0 computes at inference (qkeras/quantizers.py; checked against QKeras itself):

* quantized_bits(bits, integer, symmetric, keep_negative, alpha): alpha * clip(round(x * 2**f),
  lo, hi) * 2**-f with f = bits - keep_negative - integer, lo = -2**(bits-1) + symmetric (0
  without keep_negative), hi = 2**(bits-keep_negative) - 1. round is tf.round, half to even
  (QONNX "ROUND"); alpha (None = 1, or a power of two) scales after rounding, so it is folded
  into weights and refused on activations. In QDense/QConv1D a kernel quantizer with alpha=None
  becomes alpha="auto_po2" (qkeras/qlayers.py, `_set_trainable_parameter`): per-output-channel
  power-of-two scales computed from the kernel, done here as QKeras does and folded into the
  constant weights. alpha="auto" (float scales) is refused.
* quantized_relu(bits, integer): clip(round(x * 2**f), 0, 2**bits - 1) * 2**-f, f = bits -
  integer (Relu, then an unsigned Quant). use_sigmoid and negative_slope are refused.
* use_stochastic_rounding only acts in training (inference uses tf.round); qnoise_factor must be
  1; a negative `integer` is refused (QKeras 0.9.0 itself fails on K.pow(2, integer)).
* Strings are parsed like qkeras/safe_eval.py: the text is split at "(", so a nested call such
  as "quantized_relu(quantized_bits(4, 0, alpha=1), 0)" builds quantized_relu() with its
  defaults (8 bits, 0 integer bits); the paper's deep sets carry this string and run so.

Keras models have no input quantizer: `input_type` (default the seed paper's
ap_fixed<12,4,AP_RND,AP_SAT>) puts one on the input. A float last Dense (the paper's output
layer) is quantized to `final_type` or refused; a trailing Softmax is dropped (the firmware
emits logits, argmax unchanged). What was changed is listed by `conversion_notes`.
"""
from .convert import (HLS4ML_DEFAULT_TYPE, PAPER_INPUT_TYPE, SUPPORTED_LAYERS, conversion_notes, convert_keras_config,
                      float_final_layer, layer_tensors, load_keras)
from .quantizers import QuantSpec, auto_po2_kernel, parse_quantizer, quantizer_spec
from .reading import read_keras

__all__ = ["HLS4ML_DEFAULT_TYPE", "PAPER_INPUT_TYPE", "SUPPORTED_LAYERS", "QuantSpec", "auto_po2_kernel",
           "conversion_notes", "convert_keras_config", "float_final_layer", "layer_tensors", "load_keras",
           "parse_quantizer", "quantizer_spec", "read_keras"]
