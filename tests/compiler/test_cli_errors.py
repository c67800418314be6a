"""Bad input to `l1forge compile`: one clear line, non-zero exit, no output folder."""
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper

from tests.graphs import constant_product, float_scale_dense, make_model, per_particle_dense, quant_node


def _unsupported_op(path):
    inits = []
    make_model([quant_node(inits, "q", "x", "xq", 0.125, 8), helper.make_node("Sigmoid", ["xq"], ["y"], name="sig")],
               inits, [1, 4], [1, 4]).save(str(path))


def _float_only(path):
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [4, 3], np.linspace(-1, 1, 12).tolist())]
    make_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], inits, [1, 4], [1, 3]).save(str(path))


def _truncated(path):
    per_particle_dense().save(str(path))
    path.write_bytes(path.read_bytes()[:200])


def _pairs_of_wrong_size(path):
    """A receiver matrix built for 7 particles applied to 8: an almost interaction network."""
    recv_t = np.zeros((42, 7), np.float32)
    recv_t[np.arange(42), np.arange(42) // 6] = 1
    constant_product(recv_t, (1, 8, 3), left=True).save(str(path))


CASES = {
    "one_hot_shape_mismatch": (_pairs_of_wrong_size, "node MatMul_0 ('product' in the source model) (MatMul): "
                                                     "MatMul shape mismatch"),
    "unsupported_op": (_unsupported_op, "node Sigmoid_0 ('sig' in the source model): unsupported op: Sigmoid"),
    "non_power_of_two_scale": (lambda p: float_scale_dense(0.1).save(str(p)), "node q_in (Quant): non power-of-two scale"),
    "float_only": (_float_only, "float tensor in the datapath"),
    "truncated": (_truncated, "not a readable ONNX model"),
    "not_onnx": (lambda p: p.write_text("this is not a model\n"), "not a readable ONNX model"),
    "missing": (lambda p: None, "no such model file"),
}


def run_compile(*args):
    return subprocess.run([sys.executable, "-m", "l1forge", "compile", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_model_is_one_line(case, tmp_path):
    make, message = CASES[case]
    model = tmp_path / "model.onnx"
    make(model)
    res = run_compile(model, "--out", tmp_path / "out")
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_data_shape_mismatch_is_one_line(tmp_path):
    per_particle_dense(n=8, f=3).save(str(tmp_path / "model.onnx"))
    np.savez(tmp_path / "data.npz", x=np.zeros((10, 16, 3), np.float32))
    res = run_compile(tmp_path / "model.onnx", "--out", tmp_path / "out", "--data", tmp_path / "data.npz")
    assert res.returncode == 1
    assert res.stderr.strip() == "error: data shape [16, 3] (per sample) does not match the model input [8, 3]"
    assert not (tmp_path / "out").exists()


def test_debug_flag_shows_the_traceback(tmp_path):
    (tmp_path / "m.onnx").write_text("junk")
    res = run_compile(tmp_path / "m.onnx", "--out", tmp_path / "out", "--debug")
    assert res.returncode != 0 and "Traceback" in res.stderr


@pytest.mark.tools
def test_good_model_compiles_through_the_cli(tmp_path):
    per_particle_dense().save(str(tmp_path / "model.onnx"))
    res = run_compile(tmp_path / "model.onnx", "--out", tmp_path / "out", "--n-random", 3000, "--hls-tool", "Vivado",
                      "--reuse-factor", 2)
    assert res.returncode == 0, res.stderr
    assert "bit-exact on 3000 inputs" in res.stdout
    assert (tmp_path / "out" / "report.json").exists()
    assert (tmp_path / "out" / "hls4ml_prj" / "build_prj.tcl").exists()
    import json
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["hls_tool"] == "Vivado" and report["reuse_factor"] == 2
