"""The quantized iCaloFlow student: loading the float IAF keeps its function (up to quantization)
and its masks (masked weights exactly zero in the exported QONNX); `l1forge train --model
icaloflow-student` fine-tunes and exports QONNX equal to Brevitas; the sampling pass compiles
bit-exact with both backends; the firmware's meaning (the emulator) generates the same showers as
the torch model; bad input is one line."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import h5py
import numpy as np
import onnx
import pytest
import torch

from l1forge.models.generators import GeneratorSettings
from l1forge.models.generators.icaloflow import (QuantIAFStudent, firmware_sampler, load_float_student,
                                                 load_quantized_icaloflow)
from l1forge.reference.icaloflow.flows import AffineIAF


def l1forge(*args):
    return subprocess.run([sys.executable, "-m", "l1forge", *map(str, args)], capture_output=True, text=True)


def test_loading_keeps_the_float_student_and_its_masks(tmp_path):
    from l1forge.compiler.api import export_brevitas

    torch.manual_seed(0)
    float_student = AffineIAF(6, 3, blocks=2, hidden=8, layers=2)
    for p in float_student.parameters():
        p.data.normal_(0.0, 0.3)
    q = QuantIAFStudent(6, 3, 2, 8, 2, GeneratorSettings(w_bits=12, a_bits=14, table_bits=10, input_bits=12), 4.0)
    load_float_student(q, float_student)
    rows = torch.cat([torch.randn(2000, 6).clamp(-3.9, 3.9), torch.rand(2000, 3) * 3 - 1.5], 1)
    q.train()
    for _ in range(5):  # the activation ranges settle on the data
        q(rows)
    q.eval()
    with torch.no_grad():
        gap = (q(rows) - float_student(rows[:, :6], rows[:, 6:])).abs()
    assert float(gap.mean()) < 0.02 and float(gap.max()) < 0.3

    export_brevitas(q, rows[:1], tmp_path / "m.onnx")
    graph = onnx.load(tmp_path / "m.onnx")
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in graph.graph.initializer}
    masked = sum(int((b.mask_in == 0).sum() + 2 * (b.mask_out == 0).sum() + sum((l.mask == 0).sum() for l in b.hidden))
                 for b in q.blocks)
    matrices = [w for w in weights.values() if w.ndim == 2]
    assert masked > 0 and sum(int((w == 0).sum()) for w in matrices) >= masked
    for block in q.blocks:  # the masked entries of the trained weights are exactly zero
        assert (block.z_in.weight[block.mask_in == 0] == 0).all()
        assert (block.scale.weight[block.mask_out == 0] == 0).all()


@pytest.fixture(scope="module")
def reference_run(ds2_showers, tmp_path_factory):
    from l1forge.reference.icaloflow.train import SMALL, NetSpec, train_run

    spec = NetSpec(blocks=2, hidden=8, layers=1, steps=100, max_lr=3e-3, batch=256)
    config = replace(SMALL, teacher={f: spec for f in (1, 2, 3)}, student={f: spec for f in (1, 2, 3)})
    run = tmp_path_factory.mktemp("icf") / "run"
    train_run(ds2_showers, run, config, seed=0, quiet=True)
    return run


@pytest.mark.slow
@pytest.mark.tools
def test_student_trains_exports_and_compiles_bit_exact(ds2_showers, reference_run, tmp_path):
    from l1forge.compiler.api import canonicalize, emulate, load_model
    from l1forge.reference.icaloflow.data import read_showers
    from l1forge.reference.icaloflow.generate import generate_showers
    from l1forge.reference.icaloflow.train import Run

    outs = {}
    for flow in (1, 3):
        out = outs[flow] = tmp_path / f"flow{flow}"
        res = l1forge("train", "--model", "icaloflow-student", "--flow", flow, "--data", ds2_showers, "--run",
                      reference_run, "--steps", 60, "--batch-size", 512, "--out", out)
        assert res.returncode == 0, res.stderr
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["brevitas_vs_qonnx"] == {**metrics["brevitas_vs_qonnx"], "samples": 20000, "rows_differing": 0}
        assert metrics["mse_to_float_student"] < 0.05 * metrics["target_variance"]
        assert metrics["settings"]["input_bits"] == 12 and metrics["nonzero_weights"] < metrics["weights"]
        assert np.load(out / "test_inputs.npz")["x"].shape == (10000, {1: 46, 3: 335}[flow])

    for backend in ("hls4ml", "rtl"):
        res = l1forge("compile", outs[1] / "model.onnx", "--backend", backend, "--data", outs[1] / "test_inputs.npz",
                      "--n-random", 1000, "--skip-synth", "--out", tmp_path / backend)
        assert res.returncode == 0, res.stderr
        report = json.loads((tmp_path / backend / "report.json").read_text())
        assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 11000
        assert report["latency"]["ii"] == 1
        assert {t["function"] for t in report["tables"]} == {"exp"}

    # The firmware's meaning generates exactly the showers of the quantized torch model.
    run = Run(reference_run)
    energy = read_showers(ds2_showers)[0][:30]

    models = {f: load_quantized_icaloflow(outs[f]) for f in (1, 3)}
    graphs = {f: canonicalize(load_model(outs[f] / "model.onnx")) for f in (1, 3)}
    with torch.no_grad():
        by_torch, _ = generate_showers(firmware_sampler(run, lambda f, r: models[f](torch.from_numpy(r)).numpy(), 4),
                                        energy, seed=5)
    by_firmware, _ = generate_showers(firmware_sampler(run, lambda f, r: emulate(graphs[f], r), 4), energy, seed=5)
    assert (by_torch > 0).sum() > 1000
    np.testing.assert_array_equal(by_torch, by_firmware)


@pytest.mark.parametrize("args,message", [
    (["--flow", "2"], "--flow must be 1 (layer energies) or 3"),
    (["--table-bits", "13"], "--table-bits must be in 2..12 (tables of 2**bits entries), got 13"),
    (["--reference-config", "huge"], "--reference-config must be one of paper, small, got 'huge'"),
    (["--run", "RUN"], "not an iCaloFlow reference run (no run.json"),
    (["--data", "ILD"], "expected the CaloChallenge layout"),
])
def test_bad_options_are_one_line(args, message, ds2_showers, tmp_path):
    ild = tmp_path / "ild.h5"
    with h5py.File(ild, "w") as f:
        f["events"] = np.zeros((2, 4, 8))
        f["energy"] = np.ones((2, 1))
    args = [{"RUN": tmp_path, "ILD": ild}.get(a, a) for a in args]
    data = [] if args[0] == "--data" else ["--data", ds2_showers]
    res = l1forge("train", "--model", "icaloflow-student", *data, "--out", tmp_path / "out", *args)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 1 and len(lines) == 1 and message in lines[0], res.stderr
    assert not (tmp_path / "out").exists()
