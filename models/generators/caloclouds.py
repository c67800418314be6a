"""The consistency-distilled CaloClouds II student as firmware: one evaluation per point.

At the student's single noise level sigma_max everything that depends on sigma is a constant, so
the float student folds into a per-point network of the point's noise z (4) and its shower's
context c (incident energy, number of points; [-1, 1]), fed as one input row [z, c]:
  - the time embedding becomes part of each gate's bias and each hyper-bias;
  - c_in * sigma_max scales the first layer's weights, c_out the last layer's;
  - the skip c_skip * sigma_max * z is a small linear map of z added at the end.
Each ConcatSquash layer is (W x + b) * sigmoid(W_g c + b_g) + (W_b c + b_b), the sigmoid a table
between quantizers and the product one of two datapath tensors; leaky ReLUs are tables too. All
scales are powers of two (Brevitas fixed-point quantizers), as the compiler requires. The
quantized student is fine-tuned to reproduce the float student's output (quantization-aware).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from l1forge.compiler.errors import L1ForgeError

from .quantized import GeneratorSettings, finetune, fixed_point_quantizers

NOISE_RANGE = 4.0  # z quantized on [-4, 4): a 4-sigma Gaussian stream


class QuantConcatSquash(nn.Module):
    """(W x + b) * sigmoid(W_g c + b_g) + (W_b c + b_b) on quantized tensors."""

    def __init__(self, n_in: int, n_out: int, n_context: int, q: dict):
        super().__init__()
        from brevitas.nn import QuantIdentity, QuantLinear

        def linear(a, b):
            return QuantLinear(a, b, bias=True, weight_quant=q["weight"], bias_quant=q["bias"], return_quant_tensor=False)

        self.layer, self.gate, self.hyper = linear(n_in, n_out), linear(n_context, n_out), linear(n_context, n_out)
        self.q_h = QuantIdentity(act_quant=q["act"], return_quant_tensor=False)
        self.q_gate_in = QuantIdentity(act_quant=q["table_in"], return_quant_tensor=False)
        self.q_gate = QuantIdentity(act_quant=q["gate"], return_quant_tensor=False)
        self.q_hyper = QuantIdentity(act_quant=q["act"], return_quant_tensor=False)

    def forward(self, x, c):
        gate = self.q_gate(torch.sigmoid(self.q_gate_in(self.gate(c))))
        return self.q_h(self.layer(x)) * gate + self.q_hyper(self.hyper(c))


class QuantCaloCloudsStudent(nn.Module):
    """[z (4), context (2)] per point -> the student's denoised point (network units)."""

    def __init__(self, hidden: tuple[int, ...], settings: GeneratorSettings, leaky_slope: float = 0.01):
        super().__init__()
        from brevitas.nn import QuantIdentity, QuantLinear

        q = fixed_point_quantizers(settings, NOISE_RANGE)
        self.hidden, self.leaky_slope = tuple(hidden), leaky_slope
        self.input_quant = QuantIdentity(act_quant=q["input"], return_quant_tensor=False)
        # the slices again as quantized tensors on the input grid (the biases' scales need them)
        self.noise_quant = QuantIdentity(act_quant=q["input"], return_quant_tensor=True)
        self.context_quant = QuantIdentity(act_quant=q["input"], return_quant_tensor=True)
        self.register_buffer("noise_index", torch.arange(4))
        self.register_buffer("context_index", torch.arange(4, 6))
        widths = (4, *hidden, 4)
        self.layers = nn.ModuleList(QuantConcatSquash(a, b, 2, q) for a, b in zip(widths[:-1], widths[1:]))
        self.q_pre = nn.ModuleList(QuantIdentity(act_quant=q["table_in"], return_quant_tensor=False) for _ in hidden)
        self.q_post = nn.ModuleList(QuantIdentity(act_quant=q["act"], return_quant_tensor=True) for _ in hidden)
        self.skip = QuantLinear(4, 4, bias=False, weight_quant=q["weight"], return_quant_tensor=False)
        self.q_skip = QuantIdentity(act_quant=q["act"], return_quant_tensor=False)
        self.output_quant = QuantIdentity(act_quant=q["act"], return_quant_tensor=False)

    def forward(self, x):
        x = self.input_quant(x)
        z = self.noise_quant(torch.index_select(x, 1, self.noise_index))
        c = self.context_quant(torch.index_select(x, 1, self.context_index))
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(h, c)
            if i < len(self.hidden):
                h = self.q_post[i](F.leaky_relu(self.q_pre[i](h), self.leaky_slope))
        return self.output_quant(h + self.q_skip(self.skip(z)))


@torch.no_grad()
def load_folded(qmodel: QuantCaloCloudsStudent, student) -> None:
    """Copy a float CaloClouds II student (a consistency Denoiser) into the quantized network's
    float weights, with every sigma_max constant folded in (module docstring)."""
    edm, net = student.edm, student.net
    sigma = torch.tensor(edm.sigma_max)
    c_skip, c_out, c_in = (float(v) for v in student.scalings(sigma))
    t = F.leaky_relu(net.time_embedding(sigma.log() / 4))  # the constant time part of every context
    n_t = t.numel()
    for i, (src, dst) in enumerate(zip(net.layers, qmodel.layers)):
        w_in = c_in * edm.sigma_max if i == 0 else 1.0
        w_out = c_out if i == len(net.layers) - 1 else 1.0
        dst.layer.weight.copy_(src.layer.weight * w_in * w_out)
        dst.layer.bias.copy_(src.layer.bias * w_out)
        dst.gate.weight.copy_(src.gate.weight[:, n_t:])
        dst.gate.bias.copy_(src.gate.bias + src.gate.weight[:, :n_t] @ t)
        dst.hyper.weight.copy_(src.hyper_bias.weight[:, n_t:] * w_out)
        dst.hyper.bias.copy_(src.hyper_bias.weight[:, :n_t] @ t * w_out)
    qmodel.skip.weight.copy_(torch.eye(4) * c_skip * edm.sigma_max)


def _noise(n: int, rng: torch.Generator) -> torch.Tensor:
    return torch.randn(n, 4, generator=rng).clamp(-NOISE_RANGE, NOISE_RANGE * (1 - 2.0 ** -6))


def check_inputs(data: str | Path, run: str | Path | None, reference_config: str) -> None:
    """One line naming what is wrong with the shower file, the reference run or the config name."""
    from l1forge.reference.caloclouds2.data import DataError, read_showers
    from l1forge.reference.caloclouds2.train import CONFIGS

    if reference_config not in CONFIGS:
        raise L1ForgeError(f"--reference-config must be one of {', '.join(CONFIGS)}, got {reference_config!r}")
    try:
        read_showers(data, limit=1)
    except DataError as exc:
        raise L1ForgeError(f"{exc} (caloclouds-student trains on ILD-like point clouds: "
                           "`l1forge data showers --geometry ild`)") from None
    if run is not None:
        check_run(run)


def check_run(run: str | Path) -> None:
    """One line naming what a CaloClouds II reference run folder lacks."""
    missing = [f for f in ("run.json", "showerflow.pt", "teacher.pt", "student.pt") if not (Path(run) / f).is_file()]
    if missing:
        raise L1ForgeError(f"{run}: not a CaloClouds II reference run (missing {', '.join(missing)}; train one "
                           "with `python -m l1forge.reference.caloclouds2 train`)")


def train_caloclouds_student(data: str | Path, out: str | Path, settings: GeneratorSettings, *, run: str | Path | None = None,
                             reference_config: str = "small", progress=None) -> dict:
    """Quantize the float student of a CaloClouds II reference run (trained here on `data` when no
    `run` is given) and fine-tune it to the float student's outputs; write model.onnx (QONNX),
    the float run, the quantized weights and metrics.json to `out`."""
    from l1forge.compiler.api import export_brevitas
    from l1forge.reference.caloclouds2.data import read_showers
    from l1forge.reference.caloclouds2.train import CONFIGS, load_run, train_run

    from ..train import compare_with_qonnx

    settings.check()
    check_inputs(data, run, reference_config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.perf_counter()
    if run is None:
        run = out / "reference"
        train_run(data, run, CONFIGS[reference_config], seed=settings.seed, quiet=progress is None)
    timings["reference_s"] = time.perf_counter() - start
    config, scaler, _, _, student = load_run(run)
    energy, showers = read_showers(data)
    counts = np.array([len(s) for s in showers])
    contexts = torch.from_numpy(scaler.context(energy, counts))

    torch.manual_seed(settings.seed)
    rng = torch.Generator().manual_seed(settings.seed)
    qmodel = QuantCaloCloudsStudent(config.hidden, settings)
    load_folded(qmodel, student)
    sigma_max = torch.tensor(student.edm.sigma_max)

    def batch(n):
        z = _noise(n, rng)
        c = contexts[torch.randint(0, len(contexts), (n,), generator=rng)]
        with torch.no_grad():
            target = student(z * sigma_max, sigma_max, c)
        return torch.cat([z, c], 1), target

    start = time.perf_counter()
    curve = finetune(qmodel, batch, settings, progress)
    timings["finetune_s"] = time.perf_counter() - start
    x, target = batch(20000)
    with torch.no_grad():
        quantized = qmodel(x)
    mse = float(F.mse_loss(quantized, target))
    export_brevitas(qmodel, x[:1], out / "model.onnx")
    torch.save(qmodel.state_dict(), out / "quantized_student.pt")
    np.savez_compressed(out / "test_inputs.npz", x=x[:10000].numpy())  # points of real showers' contexts
    summary = {"model": "caloclouds-student", "data": str(data), "reference_run": str(run),
               "hidden": list(config.hidden), "settings": asdict(settings), "timings": timings,
               "mse_to_float_student": mse, "target_variance": float(target.var()),
               "brevitas_vs_qonnx": compare_with_qonnx(out / "model.onnx", quantized.numpy(), x.numpy()),
               "loss_curve": curve}
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_quantized_student(out: str | Path) -> QuantCaloCloudsStudent:
    """The quantized student that train_caloclouds_student wrote to `out` (eval mode)."""
    summary = json.loads((Path(out) / "metrics.json").read_text())
    model = QuantCaloCloudsStudent(tuple(summary["hidden"]), GeneratorSettings(**summary["settings"]))
    model.load_state_dict(torch.load(Path(out) / "quantized_student.pt", weights_only=True))
    return model.eval()


class FirmwareStudent:
    """The quantized student in the reference's sampler interface (a Denoiser-like callable with
    `edm`): D(x, sigma_max, context) computed by `fn` on the rows [x / sigma_max, context], where
    fn is the torch module or the compiler's emulator of the exported graph (the firmware's
    exact meaning). With draws_noise the firmware draws z on chip: fn gets the context rows only
    and the sampler's x is not used."""

    def __init__(self, fn, edm, draws_noise: bool = False):
        self.fn, self.edm, self.draws_noise = fn, edm, draws_noise

    def __call__(self, x, sigma, context):
        if not math.isclose(float(sigma), self.edm.sigma_max):
            raise ValueError("the firmware student runs at sigma_max only")
        rows = context if self.draws_noise else torch.cat([x / self.edm.sigma_max, context], -1)
        return torch.as_tensor(np.asarray(self.fn(rows.numpy().astype(np.float32)), dtype=np.float32)).reshape(x.shape)


def compiled_student(build: str | Path, edm) -> FirmwareStudent:
    """The student as a compile folder holds it (its canonical.onnx, which the compile proved equal
    to the firmware), computed by the integer emulator; an on-chip noise source runs as one
    stream across calls, as the chip keeps running between the batches the host sends."""
    from l1forge.compiler.api import load_model

    model_file = Path(build) / "canonical.onnx"
    if not (Path(build) / "report.json").is_file() or not model_file.is_file():
        raise L1ForgeError(f"{build}: not an l1forge build (run `l1forge compile` on the student's model.onnx)")
    return emulated_student(load_model(model_file), edm, str(build))


def emulated_student(model, edm, where: str = "the model") -> FirmwareStudent:
    """The student whose canonical graph is `model` (with or without an on-chip noise source), computed
    by the integer emulator; the noise source runs as one stream across calls, as the chip keeps
    running between the batches the host sends."""
    from l1forge.compiler.api import NoiseStream, emulate_stream, split_noise_source

    noise, network = split_noise_source(model)
    width = network.get_tensor_shape(network.graph.input[0].name)[-1]
    if width != 6 or (noise is not None and noise.columns != (0, 1, 2, 3)):
        raise L1ForgeError(f"{where}: not a caloclouds-student build (its network reads {width} columns"
                           f"{'' if noise is None else f', noise in {list(noise.columns)}'}; the student reads 6: "
                           "z in 0-3, then the context)")
    stream = None if noise is None else NoiseStream(noise)
    return FirmwareStudent(lambda rows: emulate_stream(model, rows, stream), edm, draws_noise=noise is not None)


def student_run(student_dir: str | Path) -> Path:
    """The reference run a caloclouds-student folder was made from (as given to train, relative to
    where it ran; or the folder's own `reference/` when train made one)."""
    metrics = Path(student_dir) / "metrics.json"
    try:
        summary = json.loads(metrics.read_text())
    except (OSError, ValueError):
        summary = {}
    if not isinstance(summary, dict) or summary.get("model") != "caloclouds-student":
        raise L1ForgeError(f"{student_dir}: not a caloclouds-student folder (`l1forge train --model "
                           "caloclouds-student` writes one, with metrics.json)")
    run = Path(summary["reference_run"])
    if not run.is_dir() and (Path(student_dir) / "reference").is_dir():
        run = Path(student_dir) / "reference"
    return run


def generate_with_firmware(student_dir: str | Path, build: str | Path, n: int, *,
                           energy: tuple[float, float] | None = None, seed: int = 0,
                           progress=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(incident energies, showers): n energies drawn uniformly in `energy` (GeV; default the
    training range), ShowerFlow of the student's reference run draws each shower's make-up, the
    compiled student in `build` draws its points."""
    from l1forge.reference.caloclouds2.generate import generate_showers
    from l1forge.reference.caloclouds2.train import load_run

    run = student_run(student_dir)
    check_run(run)
    _, scaler, flow, _, student = load_run(run)
    firmware = compiled_student(build, student.edm)
    energies = np.random.default_rng(seed).uniform(*(energy or scaler.energy_range), n)
    return energies, generate_showers(flow, firmware, scaler, energies, one_step=True, seed=seed, progress=progress)
