"""`l1forge train` from the command line: the interaction network trains, exports QONNX equal to
Brevitas, and compiles from the files it wrote; bad options are one line."""
import json
import subprocess
import sys

import pytest


def l1forge(*args):
    return subprocess.run([sys.executable, "-m", "l1forge", *map(str, args)], capture_output=True, text=True)


@pytest.mark.tools
def test_train_intnet_then_compile(jet_sample, tmp_path):
    run = tmp_path / "in8"
    res = l1forge("train", "--model", "intnet", "--data", jet_sample, "-N", "8", "--effects", "8,4",
                  "--objects", "12,6", "--classifier", "16", "--epochs", "20", "--batch-size", "32",
                  "--out", run)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["model"] == "intnet" and metrics["config"]["effects"] == [8, 4]
    assert metrics["brevitas_vs_qonnx"]["rows_differing"] == 0 and metrics["brevitas_vs_qonnx"]["samples"] > 300
    assert 0.3 < metrics["quantized"]["accuracy"] <= 1.0  # it learned: 5 balanced classes, chance is 0.2
    for name in ("model.onnx", "checkpoint.pt", "float_checkpoint.pt", "roc.png", "test_inputs.npz"):
        assert (run / name).stat().st_size > 0
    res = l1forge("compile", run / "model.onnx", "--data", run / "test_inputs.npz", "--n-random", "500",
                  "--out", tmp_path / "fw")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert report["verification"]["status"] == "bit-exact"
    assert report["verification"]["samples"] == metrics["splits"]["test"] + 500


@pytest.mark.parametrize("args,message", [
    (["--model", "gnn"], "model must be one of deepsets, intnet, mlp"),
    (["--model", "intnet", "--effects", "12,0"], "layer widths must be positive"),
    (["--model", "intnet", "--hgq", "--hgq-per-particle"],
     "per-particle grids (--hgq-per-particle) are for deep sets (the MLP has them by construction), not intnet"),
    (["--beta", "1e-6"], "beta must be >= 0 and needs --hgq, got 1e-06"),
    (["--hgq", "--hgq-granularity", "layer"], "hgq granularity must be element or channel, got 'layer'"),
    (["--hgq", "--hgq-cost", "luts"], "hgq cost must be adders or ebops, got 'luts'"),
    (["--hgq", "--hgq-rounding", "up"], "hgq rounding must be floor or even, got 'up'"),
    (["--hgq-per-particle"], "per-particle grids (--hgq-per-particle) need --hgq"),
    (["--hgq", "--hgq-act-granularity", "tensor"], "hgq activation granularity must be channel or layer, got 'tensor'"),
    (["--hgq", "--hgq-per-particle", "--hgq-act-granularity", "layer"],
     "per-particle grids (--hgq-per-particle) need --hgq-act-granularity channel"),
    (["--hgq", "--beta-warmup", "-2"], "--beta-warmup must be >= 0 epochs, got -2"),
])
@pytest.mark.tools
def test_bad_train_options_are_one_line(args, message, jet_sample, tmp_path):
    res = l1forge("train", "--data", jet_sample, "--out", tmp_path / "run", *args)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 1 and len(lines) == 1 and message in lines[0], res.stderr
    assert not (tmp_path / "run").exists()
