"""Latency and resource estimates without vendor tools.

`estimate_hls4ml` ("estimate:l1forge-hls4ml-v1") models an hls4ml io_parallel, Latency-strategy
design layer by layer from shapes, bit widths, the constant weights and the reuse factor:

- Dense: every product by a constant is shifts and adds (one term per nonzero digit of the
  weight in canonical signed digits, CSD), all of a column's terms summed in one adder tree as
  wide as the accumulator. In a layer whose widest weight has more than DSP_MIN_WEIGHT_BITS bits,
  every product with more than one digit goes to a DSP instead (one term of the tree). The
  reuse factor R divides the DSPs (shared multipliers) and sets II = R; constant shift-adds are
  not shared.
- ReLU / quantizers: a compare-and-select per output bit. Pooling: an adder (mean) or comparator
  (max) tree over the particles. Routing (wires and k-input sums): the sums' adders only.
- Tables: a ROM per element, one LUT6 per output bit and 64 entries. Exact division by a constant
  (l1forge_divide.h): the reciprocal's and the divisor's constant products as shift-adds (CSD
  digits), three comparisons and the saturation. Neither was fitted to a vendor report.
- FF: every layer's output is registered once per cycle it spends (a pipelined io_parallel design),
  plus PARTIAL_SUM_FF_FRACTION of the adder-tree bits of a Dense layer per register cut inside it.
- Cycles: one register per layer boundary plus the adder-tree depth that does not fit in a clock.

The constants below were fitted to Vivado 2020.1 post-synthesis of the seed paper's 4- and 6-bit
deep sets (../shared/anchors/l1-jet-id); the error on each reference is in the README and pinned
by tests/test_estimate.py.

`estimate_rtl` ("estimate:l1forge-da4ml-v1") scales da4ml's own adder-graph cost and counts the
pipeline registers in the Verilog, both fitted to yosys on the RTL backend's designs.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

HLS4ML_ESTIMATOR = "estimate:l1forge-hls4ml-v1"
RTL_ESTIMATOR = "estimate:l1forge-da4ml-v1"

# fitted (see module docstring)
LUT_PER_ADDER_BIT = 0.60
LUT_PER_SELECT_BIT = 0.5
FF_PER_REGISTER_BIT = 1.0
PARTIAL_SUM_FF_FRACTION = 0.16
DSP_MIN_WEIGHT_BITS = 10
NS_PER_ADDER_LEVEL = 0.9
SOFTMAX_LUT_PER_INPUT, SOFTMAX_BRAM = 150, 2
LUT6_ENTRIES = 64  # a 6-input LUT holds one output bit of 64 table entries
DA4ML_LUT_PER_COST = 0.86
DA4ML_FF_PER_REGISTER_BIT = 0.9


@dataclass
class LayerShape:
    """What the estimator needs to know about one layer."""
    name: str
    kind: str  # input, dense, relu, quant, avg_pool, max_pool, route, concat, reshape, softmax, table, divide
    rows: int = 1  # positions the layer is applied at (particles, edges); 1 for a flat vector
    n_in: int = 0
    n_out: int = 0
    in_bits: int = 0
    out_bits: int = 0
    acc_bits: int = 0
    weights: np.ndarray | None = field(default=None, repr=False)  # integer mantissas, n_in x n_out
    reuse: int = 1
    n_sum: int = 1  # route: inputs summed per output
    entries: int = 0  # table: entries per element
    constants: tuple[int, ...] = ()  # divide: the reciprocal and the divisor


@lru_cache(maxsize=4096)
def csd_digits(m: int) -> int:
    """Nonzero digits of |m| in canonical signed-digit (non-adjacent) form."""
    m, digits = abs(int(m)), 0
    while m:
        if m & 1:
            m -= 2 - (m & 3)  # digit +1 or -1
            digits += 1
        m >>= 1
    return digits


def _dense(layer: LayerShape, clock_ns: float) -> dict:
    w = np.asarray(layer.weights, dtype=np.int64)
    w_bits = max(1, int(np.abs(w).max()).bit_length() + 1)
    digits = np.vectorize(csd_digits, otypes=[np.int64])(w) if w.size else w
    use_dsp = w_bits > DSP_MIN_WEIGHT_BITS
    per_row_dsp = int((digits > 1).sum()) if use_dsp else 0
    terms = (digits > 0).astype(np.int64) if use_dsp else digits  # a DSP product is one term of the sum
    adds = float(np.maximum(terms.sum(axis=0) - 1, 0).sum())  # all columns of one row
    depth = math.ceil(math.log2(max(int(terms.sum(axis=0).max()), 1) + 1))
    internal = int(depth * NS_PER_ADDER_LEVEL // clock_ns)  # register cuts inside the adder trees
    # constant products are shift-adds: sharing them (reuse) saves muxes nothing; DSPs are shared
    return {"LUT": layer.rows * adds * layer.acc_bits * LUT_PER_ADDER_BIT,
            "FF_inside": layer.rows * adds * layer.acc_bits * internal * PARTIAL_SUM_FF_FRACTION,
            "DSP": math.ceil(layer.rows * per_row_dsp / layer.reuse), "cycles": internal}


def _layer(layer: LayerShape, clock_ns: float) -> dict:
    n_out_bits = layer.rows * layer.n_out * layer.out_bits
    if layer.kind == "dense":
        est = _dense(layer, clock_ns)
    elif layer.kind in ("relu", "quant"):
        est = {"LUT": n_out_bits * LUT_PER_SELECT_BIT, "DSP": 0, "cycles": 0}
    elif layer.kind in ("avg_pool", "max_pool"):
        per = LUT_PER_ADDER_BIT if layer.kind == "avg_pool" else LUT_PER_ADDER_BIT + LUT_PER_SELECT_BIT
        depth = math.ceil(math.log2(max(layer.rows, 1)))
        est = {"LUT": (layer.rows - 1) * layer.n_out * layer.acc_bits * per, "DSP": 0,
               "cycles": int(depth * NS_PER_ADDER_LEVEL // clock_ns)}
    elif layer.kind == "route" and layer.n_sum > 1:
        depth = math.ceil(math.log2(max(layer.n_sum, 1)))
        est = {"LUT": layer.n_out * (layer.n_sum - 1) * layer.acc_bits * LUT_PER_ADDER_BIT, "DSP": 0,
               "cycles": int(depth * NS_PER_ADDER_LEVEL // clock_ns)}
    elif layer.kind == "table":
        est = {"LUT": layer.n_out * layer.out_bits * math.ceil(layer.entries / LUT6_ENTRIES), "DSP": 0, "cycles": 0}
    elif layer.kind == "divide":
        adds = sum(csd_digits(c) for c in layer.constants) - 1
        depth = sum(math.ceil(math.log2(max(csd_digits(c), 1) + 1)) for c in layer.constants) + 2
        est = {"LUT": layer.n_out * ((adds + 3) * layer.acc_bits * LUT_PER_ADDER_BIT + layer.out_bits * LUT_PER_SELECT_BIT),
               "DSP": 0, "cycles": int(depth * NS_PER_ADDER_LEVEL // clock_ns)}
    elif layer.kind == "softmax":
        est = {"LUT": SOFTMAX_LUT_PER_INPUT * layer.n_out, "DSP": layer.n_out, "BRAM": SOFTMAX_BRAM, "cycles": 3}
    else:  # input, concat, reshape, routes that only select: wires
        return {"cycles": 0, "LUT": 0, "FF": 0, "DSP": 0, "BRAM": 0}
    cycles = est["cycles"] + 1  # the output register
    ff = n_out_bits * cycles * FF_PER_REGISTER_BIT + est.get("FF_inside", 0.0)
    return {"cycles": cycles, "LUT": round(est["LUT"]), "FF": round(ff),
            "DSP": est["DSP"], "BRAM": est.get("BRAM", 0)}


def estimate_hls4ml(layers: list[LayerShape], clock_ns: float) -> dict:
    """Per-layer and total {latency {cycles, ns, ii}, resources {LUT, FF, DSP, BRAM, URAM}}."""
    per_layer, total = [], {"LUT": 0, "FF": 0, "DSP": 0, "BRAM": 0, "URAM": 0}
    for layer in layers:
        est = _layer(layer, clock_ns)
        for k in ("LUT", "FF", "DSP", "BRAM"):
            total[k] += est[k]
        per_layer.append({"name": layer.name,
                          "latency": {"cycles": est["cycles"], "source": HLS4ML_ESTIMATOR},
                          "resources": {k: est[k] for k in ("LUT", "FF", "DSP", "BRAM")} | {"source": HLS4ML_ESTIMATOR}})
    cycles = sum(p["latency"]["cycles"] for p in per_layer)
    ii = max([l.reuse for l in layers] or [1])
    return {"latency": {"cycles": cycles, "ns": round(cycles * clock_ns, 3), "ii": ii, "source": HLS4ML_ESTIMATOR},
            "resources": {**total, "source": HLS4ML_ESTIMATOR}, "layers": per_layer}


_REG = re.compile(r"\breg\s*\[(\d+)\s*:\s*(\d+)\]")


def register_bits(top_verilog: Path) -> int:
    """Flip-flops the pipelined top module declares (sum of its `reg [msb:lsb]` widths)."""
    return sum(abs(int(a) - int(b)) + 1 for a, b in _REG.findall(Path(top_verilog).read_text()))


def estimate_noise_source(lanes: int, address_bits: int, out_bits: int) -> dict:
    """LUT and FF of the on-chip noise source (compiler.ir.noise): per lane a ROM of
    2**address_bits entries (one LUT6 per output bit per 64 entries; yosys, 4 lanes of 1,024 x 8:
    542 LUT + 40 SRL against 512) and a 64-bit LFSR."""
    return {"LUT": lanes * out_bits * -(-2 ** address_bits // 64), "FF": lanes * 64}


def estimate_rtl(da4ml_cost: float, top_verilog: Path) -> dict:
    """LUT and FF of a da4ml pipeline, without synthesis."""
    return {"LUT": round(DA4ML_LUT_PER_COST * da4ml_cost),
            "FF": round(DA4ML_FF_PER_REGISTER_BIT * register_bits(top_verilog)), "DSP": 0, "BRAM": 0, "URAM": 0,
            "source": RTL_ESTIMATOR}
