"""The quantized CaloClouds II student: the sigma_max folding is the float student exactly; the
`l1forge train --model caloclouds-student` route fine-tunes, exports QONNX equal to Brevitas, and
compiles bit-exact on real points with both backends; the firmware's meaning (the emulator)
generates the same showers as the torch model; bad input is one line."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import h5py
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from l1forge.models.generators import GeneratorSettings, QuantCaloCloudsStudent
from l1forge.models.generators.caloclouds import FirmwareStudent, load_folded, load_quantized_student
from l1forge.reference.caloclouds2 import EDMSettings, PointWiseNet
from l1forge.reference.caloclouds2.edm import Denoiser


def l1forge(*args):
    return subprocess.run([sys.executable, "-m", "l1forge", *map(str, args)], capture_output=True, text=True)


def folded_forward(q: QuantCaloCloudsStudent, rows: torch.Tensor) -> torch.Tensor:
    """The module docstring's per-point network on the quantized model's float weights, no quantizers."""
    z, c = rows[:, :4], rows[:, 4:]
    h = z
    for i, layer in enumerate(q.layers):
        h = F.linear(h, layer.layer.weight, layer.layer.bias) * torch.sigmoid(F.linear(c, layer.gate.weight, layer.gate.bias)) \
            + F.linear(c, layer.hyper.weight, layer.hyper.bias)
        if i < len(q.hidden):
            h = F.leaky_relu(h, q.leaky_slope)
    return h + F.linear(z, q.skip.weight)


def test_folding_is_the_float_student_at_sigma_max():
    torch.manual_seed(0)
    hidden = (16, 12)
    student = Denoiser(PointWiseNet(4, 2, hidden, 8, 16.0), EDMSettings(sigma_data=0.5), consistency=True).eval()
    for p in student.parameters():  # away from PyTorch's small initial weights: every term matters
        p.data.mul_(3)
    q = QuantCaloCloudsStudent(hidden, GeneratorSettings())
    load_folded(q, student)
    rows = torch.cat([torch.randn(5000, 4), torch.rand(5000, 2) * 2 - 1], 1)
    sigma = student.edm.sigma_max
    with torch.no_grad():
        expected = student(rows[:, :4] * sigma, torch.tensor(sigma), rows[:, 4:])
        folded = folded_forward(q, rows)
    assert expected.abs().max() > 1  # a non-trivial output
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def reference_run(ild_showers, tmp_path_factory):
    from l1forge.reference.caloclouds2.train import SMALL, train_run

    run = tmp_path_factory.mktemp("cc2") / "run"
    config = replace(SMALL, hidden=(16, 16), time_dim=8, teacher_iterations=300, student_iterations=100,
                     flow_epochs=10, flow_batch=64, teacher_batch_points=2048, student_batch_points=2048)
    train_run(ild_showers, run, config, seed=0, quiet=True)
    return run


@pytest.mark.slow
@pytest.mark.tools
def test_student_trains_exports_and_compiles_bit_exact(ild_showers, reference_run, tmp_path):
    from l1forge.compiler.api import canonicalize, emulate, load_model
    from l1forge.reference.caloclouds2.data import read_showers
    from l1forge.reference.caloclouds2.generate import generate_showers
    from l1forge.reference.caloclouds2.train import load_run

    out = tmp_path / "student"
    res = l1forge("train", "--model", "caloclouds-student", "--data", ild_showers, "--run", reference_run,
                  "--steps", 80, "--batch-size", 512, "--out", out)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["brevitas_vs_qonnx"] == {**metrics["brevitas_vs_qonnx"], "samples": 20000, "rows_differing": 0}
    assert metrics["mse_to_float_student"] < 0.05 * metrics["target_variance"]
    assert metrics["loss_curve"][-1] < metrics["loss_curve"][0]
    assert metrics["settings"]["a_bits"] == 10 and metrics["settings"]["steps"] == 80
    assert len(np.load(out / "test_inputs.npz")["x"]) == 10000

    for backend in ("hls4ml", "rtl"):
        res = l1forge("compile", out / "model.onnx", "--backend", backend, "--data", out / "test_inputs.npz",
                      "--n-random", 1000, "--skip-synth", "--out", tmp_path / backend)
        assert res.returncode == 0, res.stderr
        report = json.loads((tmp_path / backend / "report.json").read_text())
        assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 11000
        assert report["latency"]["ii"] == 1
        assert {t["function"] for t in report["tables"]} == {"sigmoid", "leakyrelu"}

    # The firmware's meaning generates exactly the showers of the quantized torch model.
    _, scaler, flow, _, student = load_run(reference_run)
    q = load_quantized_student(out)
    graph = canonicalize(load_model(out / "model.onnx"))
    energy = read_showers(ild_showers)[0][:40]
    with torch.no_grad():
        by_torch = generate_showers(flow, FirmwareStudent(lambda r: q(torch.from_numpy(r)).numpy(), student.edm), scaler,
                                    energy, one_step=True, seed=5)
    by_firmware = generate_showers(flow, FirmwareStudent(lambda r: emulate(graph, r), student.edm), scaler, energy,
                                   one_step=True, seed=5)
    assert sum(len(s) for s in by_torch) > 1000
    assert all(np.array_equal(a, b) for a, b in zip(by_torch, by_firmware))

    # `l1forge generate` samples the compiled firmware's meaning: the showers of the emulator.
    res = l1forge("generate", tmp_path / "rtl", "--student", out, "--n", 6, "--seed", 3, "--out", tmp_path / "g.h5")
    assert res.returncode == 0 and "wrote" in res.stdout, res.stderr
    energies = np.random.default_rng(3).uniform(*scaler.energy_range, 6)
    expected = generate_showers(flow, FirmwareStudent(lambda r: emulate(graph, r), student.edm), scaler, energies,
                                one_step=True, seed=3)
    written_energy, written = read_showers(tmp_path / "g.h5")
    np.testing.assert_allclose(written_energy, energies.astype(np.float32))
    assert len(written) == 6 and all(np.array_equal(a, b) for a, b in zip(written, expected))

    # With the noise drawn on chip: the firmware's input is the context, the build is bit-exact,
    # and generate draws z from the LFSRs (the shower make-up, from ShowerFlow, is the same).
    res = l1forge("noise", out / "model.onnx", "--columns", "0-3", "--out", tmp_path / "lfsr.onnx")
    assert res.returncode == 0, res.stderr
    np.savez(tmp_path / "context.npz", x=np.load(out / "test_inputs.npz")["x"][:, 4:])
    res = l1forge("compile", tmp_path / "lfsr.onnx", "--backend", "rtl", "--data", tmp_path / "context.npz",
                  "--n-random", 1000, "--skip-synth", "--out", tmp_path / "rtl_lfsr")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "rtl_lfsr" / "report.json").read_text())
    assert report["verification"]["samples"] == 11000 and report["noise_source"]["columns"] == [0, 1, 2, 3]
    res = l1forge("generate", tmp_path / "rtl_lfsr", "--student", out, "--n", 6, "--seed", 3,
                  "--out", tmp_path / "g_lfsr.h5")
    assert res.returncode == 0, res.stderr
    lfsr = read_showers(tmp_path / "g_lfsr.h5")[1]
    assert [len(s) for s in lfsr] == [len(s) for s in written]
    assert not any(np.array_equal(a, b) for a, b in zip(lfsr, written))


def test_generate_refuses_bad_input_in_one_line(tmp_path):
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "metrics.json").write_text(json.dumps({"model": "caloclouds-student",
                                                                  "reference_run": str(tmp_path / "nowhere")}))
    cases = [(["BUILD", "--student", tmp_path, "--out", "s.h5"], "not a caloclouds-student folder"),
             (["BUILD", "--student", "STUDENT", "--out", "s.h5"], "not a CaloClouds II reference run"),
             (["BUILD", "--student", "STUDENT", "--out", "s.csv"], "showers are written as HDF5"),
             (["BUILD", "--student", "STUDENT", "--out", "s.h5", "--n", "0"], "--n must be at least 1")]
    for args, message in cases:
        args = [{"BUILD": tmp_path / "build", "STUDENT": tmp_path / "student"}.get(a, a) for a in args]
        args = [tmp_path / a if str(a).startswith("s.") else a for a in args]
        res = l1forge("generate", *args)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert res.returncode == 1 and len(lines) == 1 and message in lines[0], res.stderr
        assert not (tmp_path / "s.h5").exists()


@pytest.mark.parametrize("args,message", [
    (["--table-bits", "13"], "--table-bits must be in 2..12 (tables of 2**bits entries), got 13"),
    (["--a-bits", "1"], "--a-bits must be in 2..16, got 1"),
    (["--reference-config", "huge"], "--reference-config must be one of paper, small, got 'huge'"),
    (["--run", "RUN"], "not a CaloClouds II reference run (missing run.json, showerflow.pt"),
    (["--data", "JETS"], "expected the CaloClouds layout"),
    (["--data", "SHOWERS"], "takes one shower file as --data, got 2"),
])
def test_bad_generator_options_are_one_line(args, message, ild_showers, tmp_path):
    jets = tmp_path / "jets.h5"
    with h5py.File(jets, "w") as f:
        f["jetConstituentList"] = np.zeros((2, 8, 3))
    args = [{"RUN": tmp_path, "JETS": jets, "SHOWERS": ild_showers}.get(a, a) for a in args]
    data = [] if args[0] == "--data" and args[1] == jets else ["--data", ild_showers]
    res = l1forge("train", "--model", "caloclouds-student", *data, "--out", tmp_path / "out", *args)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 1 and len(lines) == 1 and message in lines[0], res.stderr
    assert not (tmp_path / "out").exists()
