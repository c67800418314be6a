"""Vectorized integer emulator of the canonical IR: bit-exact with QONNX execution, fast enough
to be the reference of every co-simulation."""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from .integer import Fx
from .interpret import walk
from .types import infer_fixed_point_types

# Mantissas are carried as float64 (fast BLAS and vector units) when every tensor type is at
# most this wide: all values and partial sums then stay far below 2**53, where float64 holds
# integers exactly. Wider models run in int64.
FLOAT64_SAFE_BITS = 45


def emulate(model: ModelWrapper, x: np.ndarray, all_tensors: bool = False) -> dict[str, Fx] | np.ndarray:
    """Run a batch through a canonical, verified model (compiler.ir.verify proves its int64
    arithmetic cannot overflow). Returns the output values (float64, exact) or, with
    all_tensors, every tensor's mantissas and fractional bits."""
    name = model.graph.input[0].name
    as_float = max(t.width for t in infer_fixed_point_types(model).values()) <= FLOAT64_SAFE_BITS
    env = walk(model, {name: np.asarray(x)}, float_mantissas=as_float)
    if all_tensors:
        return env
    out = env[model.graph.output[0].name]
    return out.lo.astype(np.float64) * 2.0 ** -out.frac


def emulate_stream(model: ModelWrapper, x: np.ndarray, stream=None) -> np.ndarray:
    """The output values for the firmware's input rows x, one stream: with an on-chip noise source
    (compiler.ir.noise) row k meets draw k from power-up, or the next draws of `stream` (a
    NoiseStream of the model's source, continued across calls)."""
    from .noise import split_noise_source

    noise, core = split_noise_source(model)
    return emulate(core, x if noise is None else noise.fill(x, stream))
