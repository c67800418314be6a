"""The on-chip noise source in firmware: a generator-like graph with its noise columns drawn on chip
compiles bit-exact through Verilator (rtl) and hls4ml's C simulation, each run one stream from
power-up; a wrong seed in the written firmware is caught; yosys counts the LFSRs; the hls4ml
project reopens with hls4ml's own API and continues the same stream; the finn backend refuses it
in one line, and `l1forge noise` attaches a source from the command line."""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir import load_model
from l1forge.compiler.ir.noise import attach_noise_source, node_spec
from l1forge.compiler.pipeline import compile_model, cosim_build

from tests.graphs import gated_product

pytestmark = pytest.mark.tools


def _conditions(n: int) -> np.ndarray:
    return (np.random.default_rng(1).integers(-128, 128, (n, 2)) / 16.0).astype(np.float32)


@pytest.mark.parametrize("backend", ["rtl", "hls4ml"])
def test_noise_source_compiles_bit_exact_and_a_wrong_seed_is_caught(backend, tmp_path):
    noisy = attach_noise_source(gated_product(), [1, 3], seed=11, address_bits=9)
    report = compile_model(noisy, tmp_path / "b", backend=backend, data=_conditions(10000), log=lambda *a: None)
    v = report["verification"]
    assert v["bit_exact"] and v["samples"] == 12000 and set(v["mismatches"].values()) == {0}
    source = report["noise_source"]
    assert source["columns"] == [1, 3] and source["entries"] == 512 and source["ks_distance"] < 0.02
    assert "On-chip noise source (columns [1, 3])" in (tmp_path / "b" / "report.md").read_text()
    if backend == "rtl":
        assert (tmp_path / "b" / "rtl_prj" / "src" / "l1forge_model_noisy.v").is_file()
        assert report["resources"]["source"].startswith("yosys") and report["resources"]["FF"] >= 2 * 64
        written = tmp_path / "b" / "rtl_prj" / "src" / "l1forge_model_noise.v"
    else:
        written = tmp_path / "b" / "hls4ml_prj" / "firmware" / "parameters.h"
    # the firmware as written is re-verified; one seed bit flipped is not the model any more
    outputs, summary = cosim_build(tmp_path / "b", _conditions(3000), log=lambda *a: None)
    assert summary["bit_exact"] and outputs.shape == (3000, 5)
    seed = f"{node_spec(noisy.graph.node[0]).seeds[0]:016x}"
    text = written.read_text()
    assert seed in text
    written.write_text(text.replace(seed, seed[:-1] + ("0" if seed[-1] != "0" else "1")))
    shutil.rmtree(tmp_path / "b" / "rtl_prj" / "sim_tb", ignore_errors=True)  # rebuild from the changed source
    np.savez(tmp_path / "c.npz", x=_conditions(3000))
    # a new process: hls4ml's C simulation library keeps its file name, and a process loads it once
    res = _cli("cosim", tmp_path / "b", "--data", tmp_path / "c.npz")
    assert res.returncode == 1 and "firmware differs from the model on" in res.stderr, res.stderr


def test_reopened_hls4ml_project_runs_the_stream(tmp_path):
    import hls4ml

    from l1forge.compiler.ir.emulator import emulate_stream

    noisy = attach_noise_source(gated_product(), [0], seed=2)
    compile_model(noisy, tmp_path / "b", backend="hls4ml", n_random=500, log=lambda *a: None)
    project = hls4ml.converters.link_existing_project(str(tmp_path / "b" / "hls4ml_prj"))
    project.compile()
    x = _conditions(1500)
    x = np.concatenate([x, x[:, :1]], axis=1)  # three condition columns
    first = np.asarray(project.predict(np.ascontiguousarray(x[:1000], dtype=np.float64))).reshape(1000, -1)
    then = np.asarray(project.predict(np.ascontiguousarray(x[1000:], dtype=np.float64))).reshape(500, -1)
    canonical = load_model(tmp_path / "b" / "canonical.onnx")
    expected = emulate_stream(canonical, x).reshape(1500, -1)  # one stream: the library keeps its state
    np.testing.assert_array_equal(np.concatenate([first, then]), expected)


def test_finn_refuses_a_noise_source_in_one_line(tmp_path):
    with pytest.raises(L1ForgeError, match="the finn backend has no on-chip noise source"):
        compile_model(attach_noise_source(gated_product(), [0]), tmp_path / "b", backend="finn", log=lambda *a: None)
    assert not (tmp_path / "b").exists()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "l1forge", *map(str, args)], capture_output=True, text=True)


def test_noise_command_attaches_a_source_and_refuses_bad_columns(tmp_path):
    gated_product().save(str(tmp_path / "g.onnx"))
    res = _cli("noise", tmp_path / "g.onnx", "--columns", "0-1", "--seed", "4", "--out", tmp_path / "n.onnx")
    assert res.returncode == 0, res.stderr
    assert "its input is now the 2 condition columns; columns [0, 1] are drawn on chip" in res.stdout
    assert load_model(tmp_path / "n.onnx").graph.node[0].op_type == "NoiseSource"
    for columns, message in (("0-9", "outside the model input's 4 columns"), ("a,b", "give column indices")):
        res = _cli("noise", tmp_path / "g.onnx", "--columns", columns, "--out", tmp_path / "bad.onnx")
        assert res.returncode != 0 and res.stderr.strip().count("\n") == 0 and message in res.stderr
        assert not (tmp_path / "bad.onnx").exists()
