"""`l1forge cosim DIR --data FILE`: an existing build's firmware (reopened with the tool's own
API) run on the user's inputs, proven equal to the model, its outputs written; a tampered build is
caught; bad input is one line."""
import subprocess
import sys

import numpy as np
import pytest

from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.sim.cosim import grid_inputs

from tests.graphs import quantized_mean


def run_cosim(*args):
    return subprocess.run([sys.executable, "-m", "l1forge", "cosim", *map(str, args)], capture_output=True, text=True)


def _build(tmp_path, backend, verify=True):
    model = quantized_mean(6, "ROUND")
    compile_model(model, tmp_path / backend, backend=backend, n_random=100, synth=False, verify_firmware=verify,
                  log=lambda m: None)
    x = grid_inputs(canonicalize(model), 2000, seed=11)
    np.savez(tmp_path / "data.npz", x=x)
    return canonicalize(model), x


@pytest.mark.tools
@pytest.mark.parametrize("backend", ["hls4ml", "rtl"])
def test_cosim_runs_an_existing_build_on_new_data(backend, tmp_path):
    model, x = _build(tmp_path, backend)
    res = run_cosim(tmp_path / backend, "--data", tmp_path / "data.npz", "-n", 1500, "--out", tmp_path / "y.npz")
    assert res.returncode == 0, res.stderr
    assert f"{backend} firmware bit-exact with the model on 1500 inputs" in res.stdout
    with np.load(tmp_path / "y.npz") as f:
        assert f["y"].shape == (1500, 3)
        np.testing.assert_array_equal(f["y"], emulate(model, x[:1500]).reshape(1500, 3))
        np.testing.assert_array_equal(f["x"], x[:1500])


@pytest.mark.tools
def test_cosim_catches_a_tampered_build(tmp_path):
    """The firmware that runs is the folder's: a saturation bound edited in its C++ is found."""
    _build(tmp_path, "hls4ml")
    params = tmp_path / "hls4ml" / "hls4ml_prj" / "firmware" / "parameters.h"
    text = params.read_text()
    assert "out_max = 31LL" in text
    params.write_text(text.replace("out_max = 31LL", "out_max = 30LL"))
    res = run_cosim(tmp_path / "hls4ml", "--data", tmp_path / "data.npz", "--out", tmp_path / "y.npz")
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: firmware differs from the model on "), res.stderr
    assert not (tmp_path / "y.npz").exists()


def test_cosim_bad_input_is_one_line(tmp_path):
    _build(tmp_path, "hls4ml", verify=False)  # no C simulation needed: every error comes first
    np.savez(tmp_path / "wrong.npz", x=np.zeros((4, 5, 3), np.float32))
    (tmp_path / "empty").mkdir()
    cases = [
        ((tmp_path / "nowhere", "--data", tmp_path / "data.npz"), "no such build folder"),
        ((tmp_path / "empty", "--data", tmp_path / "data.npz"), "not an l1forge build (report.json is missing)"),
        ((tmp_path / "hls4ml", "--data", tmp_path / "none.npz"), "no such data file"),
        ((tmp_path / "hls4ml", "--data", tmp_path / "wrong.npz"), "data shape [5, 3] (per sample) does not match "
                                                                  "the model input [6, 3]"),
        ((tmp_path / "hls4ml", "--data", tmp_path / "data.npz", "--out", tmp_path / "y.txt"), "written as .npz"),
    ]
    for args, message in cases:
        res = run_cosim(*args)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.returncode == 1 and len(lines) == 1 and message in lines[0], (args, res.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz", "empty", "hls4ml", "wrong.npz"]
