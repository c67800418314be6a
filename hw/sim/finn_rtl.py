"""Verilator simulation of the RTL layers of a FINN build (finn-rtllib: data-width converters,
FIFOs, sliding-window generators), each on the AXI streams FINN's python execution says it
receives and must send. The HLS layers need Vitis HLS to become Verilog and are not simulated.

The FINN worker packs the beats (compiler/backends/finn/worker.py, `_rtl_streams`); this module
writes one top module that instantiates every layer side by side, builds it once with the
testbench finn_rtl_tb.cpp (random gaps in TVALID and TREADY), and compares the beats each layer
sent with the expected ones, bit for bit over the bits that carry elements.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from l1forge.compiler.errors import L1ForgeError
from l1forge.hw.tools import run_tool

from .verilator import verilator_build

TESTBENCH = Path(__file__).with_name("finn_rtl_tb.cpp")
# finn-rtllib sources Verilator refuses (each pinned in tests/compiler/backends/test_finn.py): the
# layers built from them are listed as not simulated, with the reason.
VERILATOR_REFUSES = {
    "inner_shuffle/skid.sv": "finn-rtllib's inner_shuffle/skid.sv passes $error a %0d without its argument, "
                             "which Verilator refuses",
}


def refused_source(job: dict) -> str | None:
    """Why Verilator cannot build this layer's sources, or None."""
    return next((why for f in job["files"] for path, why in VERILATOR_REFUSES.items()
                 if Path(f).as_posix().endswith(path)), None)


def _words(width: int) -> int:
    return max(1, (width + 31) // 32)


def _to_words(beats: list[str], width: int) -> np.ndarray:
    """Hex beats -> (beats, words) uint32, lowest word first."""
    n = _words(width)
    out = np.zeros((len(beats), n), dtype="<u4")
    for i, beat in enumerate(beats):
        value = int(beat, 16)
        for w in range(n):
            out[i, w] = (value >> (32 * w)) & 0xFFFFFFFF
    return out


def _mask(bits: int, width: int) -> np.ndarray:
    """uint32 words selecting the low `bits` of a `width`-bit beat (the padding above is free)."""
    value = (1 << bits) - 1
    return np.array([(value >> (32 * w)) & 0xFFFFFFFF for w in range(_words(width))], dtype="<u4")


def top_module(jobs: list[dict]) -> str:
    """One module with every layer's streams as its own ports (l<k>_in_*, l<k>_out_*)."""
    ports, body = ["input ap_clk", "input ap_rst_n"], []
    for k, job in enumerate(jobs):
        ports += [f"input [{job['in_width'] - 1}:0] l{k}_in_TDATA", f"input l{k}_in_TVALID", f"output l{k}_in_TREADY",
                  f"output [{job['out_width'] - 1}:0] l{k}_out_TDATA", f"output l{k}_out_TVALID",
                  f"input l{k}_out_TREADY"]
        i, o = job["in_port"], job["out_port"]
        body.append(f"  {job['top']} layer{k} (.{job['clk']}(ap_clk), .{job['rst']}(ap_rst_n),\n"
                    f"    .{i}_TDATA(l{k}_in_TDATA), .{i}_TVALID(l{k}_in_TVALID), .{i}_TREADY(l{k}_in_TREADY),\n"
                    f"    .{o}_TDATA(l{k}_out_TDATA), .{o}_TVALID(l{k}_out_TVALID), .{o}_TREADY(l{k}_out_TREADY));")
    return ("// written by l1forge (hw/sim/finn_rtl.py): the RTL layers of a FINN build, side by side\n"
            "module top (\n  " + ",\n  ".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n")


def layer_table(jobs: list[dict]) -> str:
    """layers.inc: the testbench's view of each layer's ports."""
    rows = []
    for k, job in enumerate(jobs):
        iw, ow = _words(job["in_width"]), _words(job["out_width"])
        rows.append(
            f"    {{{iw}, {ow},\n"
            f"     [](Vtop* t, const uint32_t* w, bool v) {{ put(t->l{k}_in_TDATA, w, {iw}); t->l{k}_in_TVALID = v; }},\n"
            f"     [](Vtop* t) {{ return static_cast<bool>(t->l{k}_in_TREADY); }},\n"
            f"     [](Vtop* t) {{ return static_cast<bool>(t->l{k}_out_TVALID); }},\n"
            f"     [](Vtop* t, uint32_t* w) {{ get(t->l{k}_out_TDATA, w, {ow}); }},\n"
            f"     [](Vtop* t, bool r) {{ t->l{k}_out_TREADY = r; }}}}")
    return (f"static const int N_LAYERS = {len(jobs)};\n"
            "static const Layer LAYERS[] = {\n" + ",\n".join(rows) + "\n};\n")


def _sources(jobs: list[dict]) -> list[str]:
    """Every layer's files once, packages first (their users import them)."""
    files = list(dict.fromkeys(f for job in jobs for f in job["files"]))
    return sorted(files, key=lambda f: not Path(f).stem.endswith("_pkg"))


def simulate_rtl_layers(jobs: list[dict], folder: Path, time_limit_s: float | None = None) -> tuple[list[dict], list]:
    """Build and run the RTL layers in Verilator: (one row per simulated layer: name, class, frames,
    beats, status "bit-exact"; one row per layer Verilator cannot build: name, class, reason). A
    layer whose beats differ raises, naming it and the first beat."""
    reasons = [refused_source(job) for job in jobs]
    skipped = [{"name": job["name"], "class": job["op"], "reason": why} for job, why in zip(jobs, reasons) if why]
    jobs = [job for job, why in zip(jobs, reasons) if not why]
    if not jobs:
        return [], skipped
    folder = Path(folder)
    if folder.exists():  # a build of another folder name (the staging one) keeps its paths in make's files
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "top.sv").write_text(top_module(jobs))
    (folder / "layers.inc").write_text(layer_table(jobs))
    start = time.perf_counter()
    res = verilator_build("top", TESTBENCH, [*_sources(jobs), str(folder / "top.sv")], folder / "obj",
                          ["-Wno-lint", "-Wno-style", "-CFLAGS", f"-I{folder}"],
                          "the Verilator build of the FINN RTL layers", time_limit_s)
    if res.returncode != 0:
        lines = (res.stderr + res.stdout).strip().splitlines()
        first = next((line for line in lines if line.startswith("%Error")), lines[-1] if lines else "no output")
        raise L1ForgeError(f"Verilator build of the FINN RTL layers failed in {folder}: {first}")
    build_s = time.perf_counter() - start
    for data in (f for job in jobs for f in job["data_files"]):
        shutil.copy(data, folder)  # the layers read them by relative path (file names start with the layer's)
    expected = []
    for k, job in enumerate(jobs):
        _to_words(job["in_beats"], job["in_width"]).tofile(folder / f"l{k}_in.bin")
        expected.append(_to_words(job["out_beats"], job["out_width"]))
    res = run_tool([str(folder / "obj" / "tb"), str(folder), *[str(len(e)) for e in expected]],
                   "the Verilator simulation of the FINN RTL layers", time_limit_s, cwd=folder)
    if res.returncode != 0:
        raise L1ForgeError(f"Verilator simulation of the FINN RTL layers failed: {res.stderr.strip()}")
    rows = []
    for k, (job, want) in enumerate(zip(jobs, expected)):
        got = np.fromfile(folder / f"l{k}_out.bin", dtype="<u4").reshape(-1, want.shape[1])
        where = f"FINN layer {job['name']} ({job['op']}) in Verilator"
        if len(got) < len(want):
            raise L1ForgeError(f"{where} sent {len(got)} of {len(want)} output beats for {job['frames']} frames "
                               "(it stalled)")
        mask = _mask(job["out_bits"], job["out_width"])
        differ = np.flatnonzero(np.any((got & mask) != (want & mask), axis=1))
        if len(differ):
            b = int(differ[0])
            raise L1ForgeError(f"{where} differs from FINN's python execution on {len(differ)} of {len(want)} "
                               f"output beats; first: beat {b} of frame {b * job['frames'] // len(want)}")
        rows.append({"name": job["name"], "class": job["op"], "frames": job["frames"], "beats": len(want),
                     "status": "bit-exact",
                     "source": f"verilator (finn-rtllib sources, random TVALID/TREADY gaps; build {build_s:.0f} s)"})
    return rows, skipped
