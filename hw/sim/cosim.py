"""Bit-exact co-simulation: firmware simulation vs the integer emulator vs QONNX execution.

Equal means equal numbers: every output value of every input row, no tolerance. On a mismatch
the first layer whose output diverges is named (hls4ml trace against the emulator's tensors).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir.emulator import emulate, emulate_stream
from l1forge.compiler.ir.integer import check_quant, element_frac, quant_bounds
from l1forge.compiler.ir.model import with_batch_size
from l1forge.compiler.ir.noise import split_noise_source


@dataclass
class CosimResult:
    samples: int
    data_samples: int
    random_samples: int
    bit_exact: bool
    mismatches: dict[str, int] = field(default_factory=dict)  # comparison -> rows that differ
    qonnx_precision: str = "float32"
    first_divergent_layer: str | None = None
    detail: str = ""
    outputs: np.ndarray | None = field(default=None, repr=False)  # the firmware's, with keep_outputs

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "outputs"}


def grid_inputs(model: ModelWrapper, n: int, seed: int = 0) -> np.ndarray:
    """n random inputs on the input quantizer's grid, starting with the extremes (all minimum,
    all maximum, zero, alternating) so saturation and the widest accumulators are exercised.
    With an on-chip noise source: the condition columns of such rows."""
    noise, model = split_noise_source(model)
    if noise is not None:
        rows = grid_inputs(model, n, seed)
        return rows[:, noise.condition_columns(rows.shape[1])]
    quant = model.find_consumer(model.graph.input[0].name)
    p = check_quant(model, quant)
    lo, hi = quant_bounds(p)
    shape = list(model.get_tensor_shape(model.graph.input[0].name)[1:])
    rng = np.random.default_rng(seed)
    m = rng.integers(lo, hi + 1, size=[n] + shape)
    extremes = [np.full(shape, lo), np.full(shape, hi), np.zeros(shape, np.int64),
                np.where(np.indices(shape).sum(0) % 2 == 0, lo, hi)]
    m[:min(n, 4)] = np.stack(extremes)[:min(n, 4)]
    return (m * 2.0 ** -element_frac(quant, p, [n] + shape)).astype(np.float32)  # each channel on its grid


def check_data_shape(model: ModelWrapper, data: np.ndarray | None) -> None:
    """A one-line error unless data's per-sample shape is the model input's."""
    shape = list(model.get_tensor_shape(model.graph.input[0].name)[1:])
    if data is not None and list(np.shape(data)[1:]) != shape:
        raise L1ForgeError(f"data shape {list(np.shape(data)[1:])} (per sample) does not match the model input {shape}")


def verification_inputs(model: ModelWrapper, data: np.ndarray | None, n_random: int, seed: int = 0) -> np.ndarray:
    """The inputs a compile verifies on: data (shape checked) then n_random grid inputs, float32."""
    check_data_shape(model, data)
    parts = [] if data is None else [np.asarray(data, dtype=np.float32)]
    parts.append(grid_inputs(model, n_random, seed))
    return np.concatenate(parts)


FLOAT32_EXACT_BITS = 24


def qonnx_reference_precision(model: ModelWrapper) -> str:
    """float32 when every tensor's mantissa fits float32's 24 bits (QONNX execution is then
    integer-exact), else float64 (the same graph executed in double, exact to 53 bits)."""
    from l1forge.compiler.ir.types import infer_fixed_point_types

    widest = max(t.width for t in infer_fixed_point_types(split_noise_source(model)[1]).values())
    return "float32" if widest <= FLOAT32_EXACT_BITS else "float64"


def qonnx_execute(model: ModelWrapper, x: np.ndarray, batch: int = 4096, precision: str = "float32") -> np.ndarray:
    """The IR's meaning: qonnx's execute_onnx, batched; precision float64 runs a double copy. A model
    with a noise source runs as one batch (an execution is one stream from power-up)."""
    from qonnx.core.onnx_exec import execute_onnx

    from l1forge.compiler.ir.model import as_float64

    if any(n.op_type == "NoiseSource" for n in model.graph.node):
        batch = max(1, len(x))
    dtype = np.float32 if precision == "float32" else np.float64
    outs = []
    for lo in range(0, len(x), batch):
        part = x[lo:lo + batch]
        mb = with_batch_size(model, len(part))
        if precision == "float64":
            mb = as_float64(mb)
        res = execute_onnx(mb, {mb.graph.input[0].name: part.astype(dtype)})
        outs.append(np.asarray(res[mb.graph.output[0].name], dtype=np.float64).reshape(len(part), -1))
    return np.concatenate(outs)


def _rows_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a.reshape(len(a), -1) != b.reshape(len(b), -1), axis=1)


def cosimulate(model: ModelWrapper, simulator, data: np.ndarray | None = None, n_random: int = 2000,
               seed: int = 0, compare_qonnx: bool = True, keep_outputs: bool = False) -> CosimResult:
    """Run data + random grid inputs through the simulator, the emulator and QONNX; compare.
    keep_outputs keeps the firmware's outputs (one row per input) in the result."""
    x = verification_inputs(model, data, n_random, seed)
    emu = emulate_stream(model, x).reshape(len(x), -1)
    firmware = simulator.predict(x)
    mismatches = {"firmware_vs_emulator": int(_rows_differ(firmware, emu).sum())}
    precision = qonnx_reference_precision(model)
    if compare_qonnx:
        mismatches["emulator_vs_qonnx"] = int(_rows_differ(emu, qonnx_execute(model, x, precision=precision)).sum())
    result = CosimResult(len(x), 0 if data is None else len(data), n_random,
                         all(v == 0 for v in mismatches.values()), mismatches, qonnx_precision=precision,
                         outputs=firmware if keep_outputs else None)
    if mismatches["firmware_vs_emulator"] and getattr(simulator, "traces_layers", False):
        bad = np.flatnonzero(_rows_differ(firmware, emu))
        noise, core = split_noise_source(model)
        if noise is None:
            result.first_divergent_layer, result.detail = first_divergent_layer(core, simulator, x[bad[:64]])
        else:  # a stream: the rows up to the first wrong one, from power-up
            prefix = x[:bad[0] + 1]
            result.first_divergent_layer, result.detail = first_divergent_layer(
                core, simulator, prefix, noise.fill(prefix).astype(np.float32))
            if result.first_divergent_layer is None:
                result.detail += " (the network agrees on the noise the model draws: look at the on-chip noise source)"
    return result


def first_divergent_layer(model: ModelWrapper, simulator, x: np.ndarray,
                          rows: np.ndarray | None = None) -> tuple[str | None, str]:
    """The first firmware layer (in order) whose output differs from the emulator's, on the
    firmware's inputs x; rows are the network's inputs where they differ (an on-chip noise source
    fills some columns)."""
    env = emulate(model, x if rows is None else rows, all_tensors=True)
    outputs = {n.name: n.output[0] for n in model.graph.node}
    for name, what, node, got in simulator.layer_outputs(x):
        ref = env[outputs[node]].lo.astype(np.float64) * 2.0 ** -env[outputs[node]].frac
        diff = got.reshape(ref.shape) != ref
        if diff.any():
            i = tuple(int(v) for v in np.argwhere(diff)[0])
            return name, (f"layer {name} ({what}) first differs at index {i}: "
                          f"firmware {float(got.reshape(ref.shape)[i])} vs model {float(ref[i])}")
    return None, "outputs differ but no traced layer does"
