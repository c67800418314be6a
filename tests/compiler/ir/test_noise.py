"""The on-chip noise source's exact meaning (compiler.ir.noise): the vectorised stream equals the
documented LFSR stepped bit by bit; the Gaussian table is the equiprobable cells' centres; a
NoiseSource attached to a model and split off again gives back the network, and qonnx's execution
of the noisy graph equals the emulator fed the drawn noise; bad attachments are refused in one line."""
from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from onnx import helper

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.ir.noise import (NoiseSpec, NoiseStream, attach_noise_source, gaussian_table, lane_seeds,
                                       split_noise_source, with_noise_source)
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute

from tests.graphs import gated_product


def lfsr_addresses(seed: int, m: int, n: int) -> list[int]:
    """The docstring's definition, one shift at a time: s <- (s << 1 | s63^s62^s60^s59) mod 2**64,
    m shifts per cycle, cycle k reads the low m bits."""
    s, out = seed, []
    for _ in range(n):
        out.append(s & ((1 << m) - 1))
        for _ in range(m):
            bit = ((s >> 63) ^ (s >> 62) ^ (s >> 60) ^ (s >> 59)) & 1
            s = ((s << 1) | bit) & ((1 << 64) - 1)
    return out


@pytest.mark.parametrize("m", [1, 7, 10, 16])
@pytest.mark.parametrize("seed", [1, 2 ** 64 - 1, 0x9E3779B97F4A7C15])
def test_stream_is_the_lfsr_stepped_bit_by_bit(seed, m):
    spec = NoiseSpec((0,), (seed,), m, 0, 17, tuple(range(2 ** m)))
    assert NoiseStream(spec).addresses(300)[:, 0].tolist() == lfsr_addresses(seed, m, 300)


def test_gaussian_table_is_the_equiprobable_cells_centres():
    values = np.array(gaussian_table(10, 5, -128, 127))
    assert np.all(np.diff(values) >= 0) and np.array_equal(values, -values[::-1])  # monotone, symmetric
    assert values[0] == round(NormalDist().inv_cdf(0.5 / 1024) * 32) == -106
    q = NoiseSpec((0,), (1,), 10, 5, 8, tuple(values)).quality()
    assert abs(q["std"] - 1) < 2e-3 and q["mean"] == 0 and q["tail_cut_sigma"] == 106 / 32
    assert 0 < q["ks_distance"] < 0.01
    narrow = gaussian_table(10, 5, -64, 63)  # a 7-bit input: the tails saturate
    assert min(narrow) == -64 and max(narrow) == 63


def test_lanes_are_distinct_streams_with_gaussian_moments():
    seeds = lane_seeds(3, 4)
    assert len(set(seeds)) == 4 and all(0 < s < 2 ** 64 for s in seeds)
    spec = NoiseSpec((0, 1, 2, 3), seeds, 10, 5, 8, gaussian_table(10, 5, -128, 127))
    d = spec.draws(50000) / 32.0
    assert np.all(np.abs(d.mean(0)) < 0.03) and np.all(np.abs(d.std(0) - 1) < 0.02)
    corr = np.corrcoef(np.concatenate([d[1:], d[:-1]], axis=1).T)  # lanes and lag-1 neighbours
    assert np.abs(corr - np.eye(8)).max() < 0.03


@pytest.mark.parametrize("columns", [[0, 1], [0, 2], [3]])
def test_attach_then_split_gives_the_network_back_and_qonnx_agrees(columns):
    network = canonicalize(gated_product())
    noisy = attach_noise_source(network, columns, seed=7)
    assert [n.op_type for n in noisy.graph.node][:2] == ["NoiseSource", "Concat"]
    assert noisy.get_tensor_shape(noisy.graph.input[0].name) == [1, 4 - len(columns)]
    spec, core = split_noise_source(noisy)
    assert spec.columns == tuple(columns) and [n.name for n in core.graph.node] == [n.name for n in network.graph.node]
    conditions = grid_inputs(noisy, 3000, seed=1)
    assert conditions.shape == (3000, 4 - len(columns))
    rows = spec.fill(conditions)
    assert np.array_equal(rows[:, columns] * 16, spec.draws(3000))
    expected = emulate(network, rows.astype(np.float32)).reshape(3000, -1)
    np.testing.assert_array_equal(qonnx_execute(noisy, conditions), expected)
    # one execution is one stream from power-up: a shorter one is its beginning
    np.testing.assert_array_equal(qonnx_execute(noisy, conditions[:100]), expected[:100])
    again = with_noise_source(core, spec)  # the canonical network with the same source
    np.testing.assert_array_equal(qonnx_execute(again, conditions), expected)


@pytest.mark.parametrize("columns, message", [
    ([4], "outside the model input's 4 columns"),
    ([0, 1, 2, 3], "cannot fill every column"),
    ([1, 1], "must be distinct"),
])
def test_bad_noise_columns_are_one_line(columns, message):
    with pytest.raises(L1ForgeError, match=message):
        attach_noise_source(canonicalize(gated_product()), columns)


def test_refusals_name_the_problem():
    per_channel = gated_product()
    scale = next(t for t in per_channel.graph.initializer if t.name == "q_in_s")
    scale.CopyFrom(helper.make_tensor("q_in_s", scale.data_type, [4], [2.0**-4, 2.0**-3, 2.0**-4, 2.0**-4]))
    with pytest.raises(L1ForgeError, match="per-tensor and signed"):
        attach_noise_source(per_channel, [0])
    noisy = attach_noise_source(gated_product(), [0])
    with pytest.raises(L1ForgeError, match="already has a NoiseSource"):
        attach_noise_source(noisy, [1])
    with pytest.raises(L1ForgeError, match="address bits must be in 1..16"):
        attach_noise_source(gated_product(), [0], address_bits=17)
    misplaced = attach_noise_source(gated_product(), [0])
    concat = next(n for n in misplaced.graph.node if n.op_type == "Concat")
    concat.input[0], concat.input[1] = concat.input[1], concat.input[0]
    with pytest.raises(L1ForgeError, match="only at the model input"):
        split_noise_source(misplaced)
    broken = attach_noise_source(gated_product(), [1])
    gather = next(n for n in broken.graph.node if n.op_type == "Gather")
    init = next(t for t in broken.graph.initializer if t.name == gather.input[1])
    init.CopyFrom(helper.make_tensor(init.name, init.data_type, [4], [0, 1, 2, 3]))
    with pytest.raises(L1ForgeError, match="column order does not match"):
        split_noise_source(broken)


def test_a_stream_continues_across_calls():
    spec = NoiseSpec((0, 1), lane_seeds(9, 2), 10, 5, 8, gaussian_table(10, 5, -128, 127))
    stream = NoiseStream(spec)
    parts = [stream.draws(n) for n in (1, 0, 37, 500, 1000)]
    assert stream.cycle == 1538
    np.testing.assert_array_equal(np.concatenate(parts), spec.draws(1538))
    conditions = np.zeros((20, 1))
    stream = NoiseStream(spec)
    rows = np.concatenate([spec.fill(conditions[:7], stream), spec.fill(conditions[7:], stream)])
    np.testing.assert_array_equal(rows, spec.fill(conditions))
