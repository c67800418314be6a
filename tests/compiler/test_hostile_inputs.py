"""The hostile-input corpus: each bad model, data file or output folder given to `l1forge compile`
ends in one `error:` line that names what is wrong and where, a non-zero exit, nothing
half-written (no staging folder, an existing build intact), nothing read outside the model's
folder, nothing unpickled or executed. CORPUS is the table of the closing note of issue 18."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.graphs import make_model, per_particle_dense, quant_node


def _compile_args(model: Path, out: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "l1forge", "compile", str(model), "--out", str(out), "--n-random", "200",
            "--skip-verify", *map(str, extra)]


def _one_line(res) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr[-3000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or p.name.endswith((".part", ".lock")))


# ---- bad model files: builders write tmp/"model.onnx" (or .h5) and return its path

def _dense(tmp: Path, edit=None) -> Path:
    model = per_particle_dense()
    if edit is not None:
        edit(model)
    path = tmp / "model.onnx"
    model.save(str(path))
    return path


def _set_initializer(name: str, value):
    def edit(model):
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return edit


def _random_bytes(tmp):
    path = tmp / "model.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return path


def _truncated(tmp):
    path = _dense(tmp)
    path.write_bytes(path.read_bytes()[:300])
    return path


def _empty(tmp):
    path = tmp / "model.onnx"
    path.write_bytes(b"")
    return path


def _cycle(tmp):
    inits = []
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             helper.make_node("Add", ["xq", "loop_b"], ["loop_a"], name="add_in_a_loop"),
             helper.make_node("Relu", ["loop_a"], ["loop_b"], name="relu_in_a_loop"),
             helper.make_node("Identity", ["loop_a"], ["y"], name="out")]
    path = tmp / "model.onnx"
    make_model(nodes, inits, [1, 4], [1, 4]).save(str(path))
    return path


def _input_dims(dims):
    def build(tmp):
        model = per_particle_dense()
        model.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, dims))
        path = tmp / "model.onnx"
        model.save(str(path))
        return path
    return build


def _huge_weight(tmp):
    """A 10**6 x 10**6 float weight declared (4 TB) with 16 bytes of data."""
    def edit(model):
        w = [i for i in model.graph.initializer if i.name == "w"][0]
        w.ClearField("float_data")
        w.ClearField("dims")
        w.dims.extend([10**6, 10**6])
        w.raw_data = b"\0" * 16
    return _dense(tmp, edit)


def _external_outside(tmp):
    """A weight stored as external data at ../secret.bin: outside the model's folder."""
    (tmp / "secret.bin").write_bytes(np.arange(12, dtype=np.float32).tobytes())
    folder = tmp / "model_folder"
    folder.mkdir()

    def edit(model):
        w = [i for i in model.graph.initializer if i.name == "w"][0]
        w.ClearField("float_data")
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        del w.external_data[:]
        w.external_data.add(key="location", value="../secret.bin")
    model = per_particle_dense()
    edit(model)
    path = folder / "model.onnx"
    model.save(str(path))
    return path


def _external_inside(tmp):
    """The same weight as external data beside the model: read, and the model compiles."""
    model = per_particle_dense()
    w = [i for i in model.graph.initializer if i.name == "w"][0]
    values = numpy_helper.to_array(w)
    (tmp / "w.bin").write_bytes(values.astype(np.float32).tobytes())
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="w.bin")
    path = tmp / "model.onnx"
    model.save(str(path))
    return path


def _keras_lambda(tmp):
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "x"}},
        {"class_name": "Lambda", "config": {"name": "evil", "function": ["4wEAAAAAAAAA", None, None],
                                            "function_type": "lambda"}}]}}
    path = tmp / "model.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.create_group("model_weights")
    return path


SCALE, NOT_FINITE = "node q_act (Quant): invalid scale", "in the source model): non-finite constant"

# (builder, expected text in the one error line)
MODEL_CORPUS = {
    "random bytes": (_random_bytes, "not a readable ONNX model"),
    "truncated file": (_truncated, "not a readable ONNX model"),
    "empty file": (_empty, "not an ONNX model with a graph"),
    "graph with a cycle": (_cycle, "the graph has a cycle through node add_in_a_loop"),
    "dynamic dimension": (_input_dims([1, "n_particles", 3]), "input x has a dynamic dimension 'n_particles'"),
    "zero dimension": (_input_dims([1, 0, 3]), "input x has a dimension of size 0"),
    "10^6 x 10^6 weight": (_huge_weight, "initializer w declares 1000000000000 elements"),
    "NaN weight": (lambda t: _dense(t, _set_initializer("w", np.full((3, 4), np.nan))), f"node MatMul_0 ('mm' {NOT_FINITE}"),
    "Inf bias": (lambda t: _dense(t, _set_initializer("b", np.full(4, np.inf))), f"node Add_0 ('bias' {NOT_FINITE}"),
    "NaN scale": (lambda t: _dense(t, _set_initializer("q_act_s", np.float32(np.nan))), SCALE),
    "Inf scale": (lambda t: _dense(t, _set_initializer("q_act_s", np.float32(np.inf))), SCALE),
    "zero scale": (lambda t: _dense(t, _set_initializer("q_act_s", np.float32(0))), SCALE),
    "negative scale": (lambda t: _dense(t, _set_initializer("q_act_s", np.float32(-0.125))), SCALE),
    "bit width 0": (lambda t: _dense(t, _set_initializer("q_act_b", np.float32(0))), "q_act (Quant): bit width"),
    "bit width 64": (lambda t: _dense(t, _set_initializer("q_act_b", np.float32(64))), "q_act (Quant): bit width"),
    "external data outside the folder": (_external_outside, "outside the model's folder"),
    "Keras Lambda layer": (_keras_lambda, "Lambda"),
}


@pytest.mark.parametrize("case", list(MODEL_CORPUS))
def test_hostile_model_is_one_line(case, tmp_path):
    build, expected = MODEL_CORPUS[case]
    model = build(tmp_path)
    res = subprocess.run(_compile_args(model, tmp_path / "out"), capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    line = _one_line(res)
    assert expected in line, line
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_external_data_inside_the_folder_is_read(tmp_path):
    res = subprocess.run(_compile_args(_external_inside(tmp_path), tmp_path / "out"), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "report.json").exists()


def test_external_data_outside_is_never_opened(tmp_path):
    """The refusal comes before any read: the secret's access time does not move, and the loader
    never holds its bytes (the check is on the path, not on what a read returns)."""
    from l1forge.compiler.errors import L1ForgeError
    from l1forge.compiler.ir import load_model

    path = _external_outside(tmp_path)
    secret = tmp_path / "secret.bin"
    os.utime(secret, (1_000_000, 1_000_000))
    with pytest.raises(L1ForgeError, match="outside the model's folder"):
        load_model(path)
    assert secret.stat().st_atime == 1_000_000


# ---- bad data files (--data)

def _data(tmp, **arrays) -> Path:
    path = tmp / "data.npz"
    np.savez(path, **arrays)
    return path


DATA_CORPUS = {
    "NaN in the inputs": (lambda t: _data(t, x=np.full((5, 8, 3), np.nan, np.float32)),
                          "data.npz: x has 120 NaN or infinite values (first at row 0)"),
    "wrong dtype": (lambda t: _data(t, x=np.full((5, 8, 3), "a")), "data.npz: x has dtype <U1; give numbers (float32)"),
    "needs pickle": (lambda t: _data(t, x=np.array([{"a": 1}] * 5, dtype=object)),
                     "data.npz: x is an object array (loading it would run pickle, which l1forge never does)"),
    "wrong shape": (lambda t: _data(t, x=np.zeros((5, 16, 3), np.float32)),
                    "data shape [16, 3] (per sample) does not match the model input [8, 3]"),
    "no x": (lambda t: _data(t, inputs=np.zeros((5, 8, 3), np.float32)), "data.npz: missing array 'x'"),
}


@pytest.mark.parametrize("case", list(DATA_CORPUS))
def test_hostile_data_is_one_line(case, tmp_path):
    build, expected = DATA_CORPUS[case]
    model, data = _dense(tmp_path), build(tmp_path)
    res = subprocess.run(_compile_args(model, tmp_path / "out", "--data", data), capture_output=True, text=True)
    assert res.returncode == 1
    line = _one_line(res)
    assert expected in line.replace("error: ", "").replace(str(tmp_path) + "/", ""), line
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


# ---- bad output folders

def test_output_is_a_file(tmp_path):
    (tmp_path / "out").write_text("keep me")
    res = subprocess.run(_compile_args(_dense(tmp_path), tmp_path / "out"), capture_output=True, text=True)
    assert res.returncode == 1
    assert "is a file" in _one_line(res)
    assert (tmp_path / "out").read_text() == "keep me" and _leftovers(tmp_path) == []


def test_output_folder_of_other_files_is_not_replaced(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("keep me")
    res = subprocess.run(_compile_args(_dense(tmp_path), tmp_path / "out"), capture_output=True, text=True)
    assert res.returncode == 1
    assert "exists and is not an l1forge build" in _one_line(res)
    assert (tmp_path / "out" / "thesis.tex").read_text() == "keep me" and _leftovers(tmp_path) == []


def test_previous_build_is_replaced(tmp_path):
    model = _dense(tmp_path)
    first = subprocess.run(_compile_args(model, tmp_path / "out"), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    (tmp_path / "out" / "stale.txt").write_text("from the first build")
    second = subprocess.run(_compile_args(model, tmp_path / "out", "--backend", "rtl", "--skip-synth"),
                            capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["backend"] == "rtl"
    assert not (tmp_path / "out" / "stale.txt").exists() and _leftovers(tmp_path) == []


def test_output_not_writable(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere chmod allows: /sys refuses even root
        out = Path("/sys/l1forge-test/out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "out"
    res = subprocess.run(_compile_args(_dense(tmp_path), out), capture_output=True, text=True)
    assert res.returncode == 1
    line = _one_line(res)
    assert "cannot write" in line and str(out.parent) in line, line


def _full_disk():
    """In the child: writes beyond 20 kB fail (EFBIG), as on a full disk (the RTL sources are larger)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_full_disk_leaves_the_old_build_intact(tmp_path):
    model = _dense(tmp_path)
    assert subprocess.run(_compile_args(model, tmp_path / "out"), capture_output=True).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()}
    res = subprocess.run(_compile_args(model, tmp_path / "out", "--backend", "rtl", "--skip-synth"),
                         capture_output=True, text=True, preexec_fn=_full_disk)
    assert res.returncode == 1
    assert "File too large" in _one_line(res)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir() if p.is_file()} == before
    assert _leftovers(tmp_path) == []


def _wait_for_staging(folder: Path, process, limit: float = 120) -> None:
    start = time.monotonic()
    while not any(".partial" in p.name for p in folder.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() - start < limit
        time.sleep(0.05)


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_compile_removes_the_staging(signum, code, tmp_path):
    process = subprocess.Popen(_compile_args(_dense(tmp_path), tmp_path / "out", "--backend", "rtl"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_staging(tmp_path, process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    expected = f"error: interrupted ({signal.Signals(signum).name}); nothing written"
    assert [line for line in err.splitlines() if line.strip()] == [expected]
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_two_compiles_into_one_folder(tmp_path):
    model = _dense(tmp_path)
    first = subprocess.Popen(_compile_args(model, tmp_path / "out", "--backend", "rtl"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_staging(tmp_path, first)
    second = subprocess.run(_compile_args(model, tmp_path / "out"), capture_output=True, text=True)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 1
    assert f"another l1forge compile (pid {first.pid}) is writing" in _one_line(second)
    assert json.loads((tmp_path / "out" / "report.json").read_text())["backend"] == "rtl"  # the first's, whole
    assert _leftovers(tmp_path) == []


# ---- resource limits

def test_design_too_large_for_the_memory_is_refused_before_yosys(tmp_path):
    res = subprocess.run(_compile_args(_dense(tmp_path), tmp_path / "out", "--backend", "rtl", "--memory-limit-gb",
                                       "1"), capture_output=True, text=True)
    assert res.returncode == 1
    line = _one_line(res)
    assert "yosys would need about" in line and "1.0 GB available; use --skip-synth" in line, line
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_tool_time_limit_is_one_line(tmp_path):
    args = _compile_args(_dense(tmp_path), tmp_path / "out", "--backend", "rtl", "--tool-time-limit", "0.5")
    res = subprocess.run([a for a in args if a != "--skip-verify"], capture_output=True, text=True)
    assert res.returncode == 1
    assert "error: the Verilator build ran past its time limit of 0.5 s (--tool-time-limit)" in _one_line(res)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []
