"""The on-chip noise source: Gaussian noise drawn in firmware from LFSRs, bit for bit reproducible.

A generator network (a one-step shower student) takes Gaussian noise beside its conditions. By
default the noise is a firmware input stream. The NoiseSource op of l1forge's custom-op domain
instead draws it on chip, and its meaning is this module's exact integer definition:

- every noise lane has its own 64-bit Fibonacci LFSR, taps 64, 63, 61, 60 (a maximal-length
  polynomial: period 2**64 - 1), seeded with a nonzero constant. The state shifts left and the
  new bit enters at bit 0: new = s[63] ^ s[62] ^ s[60] ^ s[59];
- the LFSR runs `address_bits` steps per clock cycle; cycle k reads the state after k * address_bits
  steps (cycle 0 reads the seed), whose low `address_bits` bits address a table;
- the table maps 2**address_bits equiprobable cells to the centres of the Gaussian's quantile
  cells, Phi^-1((u + 1/2) / 2**address_bits), rounded half-to-even onto the noise input's grid
  and saturated to its range.

So row k of a stream (clock cycle k after power-up) gets draw k of every lane. This is a stated
approximation of N(0, 1): the marginal is the Gaussian quantised to equiprobable cells, its tails
cut at the outermost cell centre, the lanes are independent LFSRs whose 2**64 - 1 periods make
overlap between lanes practically impossible, and consecutive draws of a lane share no bits.
`quality` states its moments, tail cut and Kolmogorov-Smirnov distance.

In a QONNX graph the source sits between the firmware's input (the conditions) and the network:
NoiseSource(conditions) -> noise; Concat([noise, conditions]) then a Gather placing the columns
(standard ONNX) form the network's input row. `attach_noise_source` builds that graph and
`split_noise_source` takes it apart again for the compiler, which compiles the network and wraps
the source around it.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper

from ..errors import L1ForgeError

LFSR_BITS = 64
TAPS = (64, 63, 61, 60)
MAX_ADDRESS_BITS = 16
DEFAULT_ADDRESS_BITS = 10
FUNCTION = "gaussian-inverse-cdf"


@dataclass(frozen=True)
class NoiseSpec:
    """A NoiseSource: lane l fills column columns[l] of the network's input row; values are the
    table's mantissas on the grid 2**-frac; bits is the signed width they saturate to."""
    columns: tuple[int, ...]
    seeds: tuple[int, ...]
    address_bits: int
    frac: int
    bits: int
    values: tuple[int, ...]

    @property
    def lanes(self) -> int:
        return len(self.columns)

    def check(self) -> None:
        if not self.columns or len(set(self.columns)) != len(self.columns) or min(self.columns) < 0:
            raise L1ForgeError(f"noise columns must be distinct column indices, got {list(self.columns)}")
        if len(self.seeds) != self.lanes:
            raise L1ForgeError(f"the noise source has {self.lanes} lanes but {len(self.seeds)} seeds")
        if any(not 0 < s < 2 ** LFSR_BITS for s in self.seeds):
            raise L1ForgeError(f"every LFSR seed must be a nonzero {LFSR_BITS}-bit number")
        if not 1 <= self.address_bits <= MAX_ADDRESS_BITS:
            raise L1ForgeError(f"noise address bits must be in 1..{MAX_ADDRESS_BITS}, got {self.address_bits}")
        if len(self.values) != 2 ** self.address_bits:
            raise L1ForgeError(f"the noise table needs {2 ** self.address_bits} entries, has {len(self.values)}")
        lo, hi = -2 ** (self.bits - 1), 2 ** (self.bits - 1) - 1
        if min(self.values) < lo or max(self.values) > hi:
            raise L1ForgeError(f"noise table values outside the signed {self.bits}-bit range")

    def draws(self, n: int) -> np.ndarray:
        """(n, lanes) mantissas: draw k of every lane (row k = clock cycle k after power-up)."""
        return NoiseStream(self).draws(n)

    def fill(self, conditions: np.ndarray, stream: "NoiseStream | None" = None) -> np.ndarray:
        """The network's input rows for a stream of condition rows: draws k in the noise columns
        of row k, the conditions in the others, in order (values, float64). With `stream` the
        draws continue it, else they start at power-up."""
        conditions = np.asarray(conditions, dtype=np.float64).reshape(len(conditions), -1)
        width = conditions.shape[1] + self.lanes
        rows = np.zeros((len(conditions), width))
        rows[:, list(self.columns)] = (stream or NoiseStream(self)).draws(len(conditions)) * 2.0 ** -self.frac
        rows[:, self.condition_columns(width)] = conditions
        return rows

    def condition_columns(self, width: int) -> list[int]:
        return [c for c in range(width) if c not in self.columns]

    def column_sources(self, width: int) -> list[tuple[bool, int]]:
        """Per column of the network's row: (True, lane) for a noise column, else (False, i) for
        the firmware input's condition column i."""
        lane_of = {c: lane for lane, c in enumerate(self.columns)}
        conditions = {c: i for i, c in enumerate(self.condition_columns(width))}
        return [(True, lane_of[c]) if c in lane_of else (False, conditions[c]) for c in range(width)]

    def quality(self) -> dict:
        """How the table's distribution (every entry equally likely) compares with N(0, 1)."""
        v = np.asarray(self.values, dtype=np.float64) * 2.0 ** -self.frac
        grid = np.unique(v)
        cdf = np.searchsorted(np.sort(v), grid, side="right") / len(v)
        below = np.concatenate([[0.0], cdf[:-1]])
        normal = np.array([NormalDist().cdf(g) for g in grid])
        ks = float(max(np.abs(cdf - normal).max(), np.abs(below - normal).max()))
        return {"function": FUNCTION, "entries": len(v), "grid": 2.0 ** -self.frac, "mean": float(v.mean()),
                "std": float(v.std()), "tail_cut_sigma": float(np.abs(v).max()), "ks_distance": ks,
                "lfsr": f"{LFSR_BITS}-bit Fibonacci, taps {', '.join(map(str, TAPS))}, "
                        f"{self.address_bits} steps per cycle, one per lane"}


class NoiseStream:
    """The source running from power-up: each call continues where the last one stopped, as the
    chip does between the batches a host sends it."""

    def __init__(self, spec: NoiseSpec):
        self.spec, self.states, self.cycle = spec, list(spec.seeds), 0

    def addresses(self, n: int) -> np.ndarray:
        """(n, lanes) table addresses of the next n cycles."""
        out = np.zeros((n, self.spec.lanes), np.int64)
        for lane, state in enumerate(self.states):
            out[:, lane], self.states[lane] = _run(state, n, self.spec.address_bits)
        self.cycle += n
        return out

    def draws(self, n: int) -> np.ndarray:
        """(n, lanes) mantissas of the next n cycles."""
        return np.asarray(self.spec.values, dtype=np.int64)[self.addresses(n)]


def _run(state: int, n: int, m: int) -> tuple[np.ndarray, int]:
    """n cycles of one LFSR from `state`: (addresses, the state after them). As a bit sequence:
    b_0..b_63 the state from bit 63 down to bit 0, then b_t = b_{t-64} ^ b_{t-63} ^ b_{t-61} ^
    b_{t-60}; cycle k's address has bit i = b_{63 + k m - i}. Every lag is at least 60, so the
    sequence grows 60 bits at a time."""
    total = LFSR_BITS + n * m
    b = np.zeros(total + 60, dtype=np.uint8)
    b[:LFSR_BITS] = [(state >> (LFSR_BITS - 1 - j)) & 1 for j in range(LFSR_BITS)]
    for t in range(LFSR_BITS, total, 60):
        b[t:t + 60] = np.bitwise_xor.reduce([b[t - lag:t - lag + 60] for lag in TAPS])
    newest = LFSR_BITS - 1 + m * np.arange(n)
    bits = b[newest[:, None] - np.arange(m)[None, :]].astype(np.int64)
    after = int("".join(map(str, b[total - LFSR_BITS:total])), 2)  # b_{total-64} is the new bit 63
    return bits @ (1 << np.arange(m, dtype=np.int64)), after


def gaussian_table(address_bits: int, frac: int, lo: int, hi: int) -> tuple[int, ...]:
    """Mantissas of the equiprobable cells' centres of N(0, 1) on the grid 2**-frac, rounded
    half-to-even and saturated to [lo, hi]."""
    cells = 2 ** address_bits
    q = np.array([NormalDist().inv_cdf((u + 0.5) / cells) for u in range(cells)])
    m = np.clip(np.round(q * 2.0 ** frac), lo, hi)
    return tuple(int(v) for v in m)


def lane_seeds(seed: int, lanes: int) -> tuple[int, ...]:
    """Nonzero 64-bit LFSR seeds, one per lane, from one user seed."""
    rng = np.random.default_rng(seed)
    return tuple(int(s) * 2 + 1 for s in rng.integers(0, 2 ** 63, size=lanes, dtype=np.int64))


# --- the NoiseSource node -------------------------------------------------------------------

def node_spec(node) -> NoiseSpec:
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    try:
        return NoiseSpec(tuple(int(c) for c in a["columns"]), tuple(int(s.decode(), 16) for s in a["seeds"]),
                         int(a["address_bits"]), int(a["frac"]), int(a["bits"]), tuple(int(v) for v in a["values"]))
    except (KeyError, ValueError) as exc:
        raise L1ForgeError(f"NoiseSource {node.name}: malformed attributes ({exc})") from None


def make_noise_node(name: str, inp: str, out: str, spec: NoiseSpec):
    from .custom_ops import DOMAIN

    return helper.make_node("NoiseSource", [inp], [out], name=name, domain=DOMAIN, columns=list(spec.columns),
                            seeds=[f"{s:016x}" for s in spec.seeds], address_bits=spec.address_bits, frac=spec.frac,
                            bits=spec.bits, values=list(spec.values), function=FUNCTION,
                            lfsr=f"{LFSR_BITS}-bit Fibonacci taps {','.join(map(str, TAPS))}")


def attach_noise_source(model: ModelWrapper, columns, seed: int = 0,
                        address_bits: int = DEFAULT_ADDRESS_BITS) -> ModelWrapper:
    """A copy of `model` (one input row of shape (batch, width)) whose input holds only the other
    columns: the given columns are drawn on chip by a NoiseSource on the grid of the model's input
    quantizer (which must be a per-tensor signed Quant)."""
    from .integer import check_quant, quant_bounds

    if any(n.op_type == "NoiseSource" for n in model.graph.node):
        raise L1ForgeError("the model already has a NoiseSource")
    inp = model.graph.input[0]
    shape = model.get_tensor_shape(inp.name)
    quant = model.find_consumer(inp.name)
    if len(shape) != 2 or quant is None or quant.op_type != "Quant":
        raise L1ForgeError(f"a noise source needs a model whose input {inp.name} is one row per sample "
                           f"(shape [batch, width], got {shape}) read by a Quant")
    p = check_quant(model, quant)
    if p["channel_frac"] is not None or not p["signed"]:
        raise L1ForgeError(f"the noise source fills columns of the input quantizer {quant.name}, "
                           "which must be per-tensor and signed")
    width = shape[1]
    columns = tuple(int(c) for c in columns)
    if any(not 0 <= c < width for c in columns):
        raise L1ForgeError(f"noise columns {list(columns)} outside the model input's {width} columns")
    if len(columns) >= width:
        raise L1ForgeError("the noise source cannot fill every column: the firmware needs an input")
    spec = NoiseSpec(columns, lane_seeds(seed, len(columns)), address_bits, int(p["frac"]), int(p["bit_width"]),
                     gaussian_table(address_bits, int(p["frac"]), *quant_bounds(p)))
    spec.check()
    return with_noise_source(model, spec)


def with_noise_source(model: ModelWrapper, spec: NoiseSpec) -> ModelWrapper:
    """A copy of `model` whose input columns spec.columns come from the NoiseSource `spec`."""
    from .model import copy_model

    model = copy_model(model)
    inp = model.graph.input[0]
    shape = model.get_tensor_shape(inp.name)
    batch, width, full = shape[0], shape[1], inp.name
    conds = f"{full}_conditions"
    conditions = helper.make_tensor_value_info(conds, TensorProto.FLOAT, [batch, width - spec.lanes])
    noise, joined = f"{full}_noise", f"{full}_joined"
    perm = _permutation(spec, width)
    nodes = [make_noise_node("noise_source", conds, noise, spec),
             helper.make_node("Concat", [noise, conds], [joined if perm else full], name="noise_concat", axis=1)]
    if perm:
        nodes.append(helper.make_node("Gather", [joined, f"{full}_columns"], [full], name="noise_columns", axis=1))
        model.graph.initializer.append(helper.make_tensor(f"{full}_columns", TensorProto.INT64, [width], perm))
    model.graph.input.remove(inp)
    model.graph.input.insert(0, conditions)
    model.graph.value_info.append(helper.make_tensor_value_info(full, TensorProto.FLOAT, shape))
    model.graph.value_info.append(helper.make_tensor_value_info(noise, TensorProto.FLOAT, [batch, spec.lanes]))
    for i, node in enumerate(nodes):
        model.graph.node.insert(i, node)
    return model


def _permutation(spec: NoiseSpec, width: int) -> list[int] | None:
    """Gather indices taking [noise, conditions] to the network's column order (None: identity)."""
    perm = [k if noise else spec.lanes + k for noise, k in spec.column_sources(width)]
    return None if perm == list(range(width)) else perm


def split_noise_source(model: ModelWrapper) -> tuple[NoiseSpec | None, ModelWrapper]:
    """(the NoiseSource's spec, the network alone with its whole input row as the graph input), or
    (None, model) for a model without one. Refuses a NoiseSource anywhere but as
    attach_noise_source places it."""
    from .model import copy_model

    sources = [n for n in model.graph.node if n.op_type == "NoiseSource"]
    if not sources:
        return None, model
    node = sources[0]
    inp = model.graph.input[0].name
    users = [n for n in model.graph.node if inp in n.input]
    concat = model.find_consumer(node.output[0])
    if (len(sources) > 1 or list(node.input) != [inp] or concat is None or concat.op_type != "Concat"
            or list(concat.input) != [node.output[0], inp] or sorted(n.name for n in users) !=
            sorted([node.name, concat.name])):
        raise L1ForgeError(f"NoiseSource {node.name}: l1forge compiles a noise source only at the model input, "
                           "as `l1forge noise` attaches it (NoiseSource(input) -> Concat([noise, input]))")
    spec = node_spec(node)
    spec.check()
    core = copy_model(model)
    g = core.graph
    last = concat
    gather = core.find_consumer(concat.output[0])
    width = model.get_tensor_shape(inp)[1] + spec.lanes
    expected = _permutation(spec, width)
    if gather is not None and gather.op_type == "Gather" and gather.input[0] == concat.output[0]:
        perm = core.get_initializer(gather.input[1])
        if perm is None or list(perm) != expected:
            raise L1ForgeError(f"{gather.name}: its column order does not match NoiseSource {node.name}'s columns")
        last = gather
    elif expected is not None:
        raise L1ForgeError(f"NoiseSource {node.name}: its columns need the Gather that places them")
    full = last.output[0]
    shape = [model.get_tensor_shape(inp)[0], width]
    removed = {node.name, concat.name, last.name}
    for n in [n for n in g.node if n.name in removed]:
        g.node.remove(n)
    if last is not concat:
        g.initializer.remove(next(t for t in g.initializer if t.name == last.input[1]))
    g.input.remove(g.input[0])
    for v in [v for v in g.value_info if v.name in (full, node.output[0])]:
        g.value_info.remove(v)
    g.input.insert(0, helper.make_tensor_value_info(full, TensorProto.FLOAT, shape))
    return spec, core
