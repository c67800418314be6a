"""The distilled iCaloFlow student's sampling pass as firmware: one pass per shower (Flow-1, the 45
layer energies) or per layer (Flow-3, 144 voxels given the layer before).

The float student (reference/icaloflow/flows.AffineIAF) maps noise z to features through its
blocks, each x_i = z_i exp(s_i) + t_i with (s, t) from a MADE of z_<i and the condition c. Here it
takes one input row [z, c] and every block is quantized:
  - the MADE: masked linear layers (the masked weights are exactly zero, stay zero through the
    fine-tuning and produce no logic), the condition entering the first layer through its own
    unmasked linear map, ReLUs;
  - s on a constant grid [-4, 4) (the float student's clamp), exp(s) a table;
  - z * exp(s) + t: a product of two datapath tensors and a sum, requantized.
Scales are powers of two. The layer-by-layer loop of Flow-3 stays outside the firmware: each pass
is one layer, and the host (or a streaming wrapper) feeds the previous layer's features back as
the next condition; the firmware's pipelined II of 1 takes a new layer every clock.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from l1forge.compiler.errors import L1ForgeError

from .quantized import GeneratorSettings, finetune, fixed_point_quantizers

NOISE_RANGE = 4.0
CONTEXT_RANGE = {1: 2.0, 3: 16.0}
INPUT_BITS = 12  # the input row's grid: 2**-7 on Flow-3's +-16, 2**-9 on Flow-1's +-4  # Flow-1: log10(E/MeV) - 4.5 in [-1.5, 1.5]; Flow-3: logits of +-13.8
FIRMWARE_FLOWS = (1, 3)


def clamp_noise(z: torch.Tensor) -> torch.Tensor:
    """Gaussian noise on the firmware's noise range [-4, 4)."""
    return z.clamp(-NOISE_RANGE, NOISE_RANGE * (1 - 2.0 ** -6))


def firmware_sampler(run, evaluate, seed: int):
    """A reference sampler (reference/icaloflow/generate.py) whose Flows 1 and 3 are the quantized
    students: evaluate(flow, rows) computes them on rows [clamped noise, condition] (the torch
    module, or the compiler's emulator of the exported graph: the firmware's exact meaning);
    Flow-2 stays the float student."""
    from l1forge.reference.icaloflow.generate import student_noise, student_sampler

    gen = torch.Generator().manual_seed(seed)
    float_student = student_sampler(run, seed)

    def sample(flow: int, context: np.ndarray) -> np.ndarray:
        if flow not in FIRMWARE_FLOWS:
            return float_student(flow, context)
        rows = np.concatenate([clamp_noise(student_noise(gen, len(context), flow)).numpy(), context], 1)
        return np.asarray(evaluate(flow, rows.astype(np.float32))).reshape(len(rows), -1)
    return sample


class QuantMADEBlock(nn.Module):
    """One quantized IAF block: z -> z * exp(s) + t."""

    def __init__(self, features: int, context: int, hidden: int, layers: int, q: dict, s_max: float,
                 table_bits: int, last: bool):
        super().__init__()
        from brevitas.nn import QuantIdentity, QuantLinear

        def linear(a, b, bias=True):
            return QuantLinear(a, b, bias=bias, weight_quant=q["weight"], bias_quant=q["bias"] if bias else None,
                               return_quant_tensor=False)

        def ident(role, as_quant=False):
            return QuantIdentity(act_quant=q[role], return_quant_tensor=as_quant)

        self.z_in, self.c_in = linear(features, hidden), linear(context, hidden, bias=False)
        self.q_z, self.q_c = ident("act"), ident("act")
        self.hidden = nn.ModuleList(linear(hidden, hidden) for _ in range(layers - 1))
        self.q_relu = nn.ModuleList(ident("unsigned", True) for _ in range(layers))
        self.scale, self.shift = linear(hidden, features), linear(hidden, features)
        self.q_s = QuantIdentity(act_quant=q["signed_const"](table_bits, s_max), return_quant_tensor=False)
        self.q_exp, self.q_t, self.q_out = ident("unsigned"), ident("act"), ident("act", not last)

    def forward(self, z, c):
        h = self.q_relu[0](torch.relu(self.q_z(self.z_in(z)) + self.q_c(self.c_in(c))))
        for layer, q in zip(self.hidden, self.q_relu[1:]):
            h = q(torch.relu(layer(h)))
        e = self.q_exp(torch.exp(self.q_s(self.scale(h))))
        return self.q_out(z * e + self.q_t(self.shift(h)))


class QuantIAFStudent(nn.Module):
    """[z (features), c (context)] per row -> the student's sample (features)."""

    def __init__(self, features: int, context: int, blocks: int, hidden: int, layers: int, settings: GeneratorSettings,
                 context_range: float):
        super().__init__()
        from brevitas.nn import QuantIdentity

        from l1forge.reference.icaloflow.flows import S_MAX, made_masks

        q = fixed_point_quantizers(settings, max(NOISE_RANGE, context_range))
        self.features, self.context = features, context
        self.input_quant = QuantIdentity(act_quant=q["input"], return_quant_tensor=False)
        self.noise_quant = QuantIdentity(act_quant=q["signed_const"](settings.input_bits, NOISE_RANGE),
                                         return_quant_tensor=True)
        self.context_quant = QuantIdentity(act_quant=q["input"], return_quant_tensor=True)
        self.register_buffer("noise_index", torch.arange(features))
        self.register_buffer("context_index", torch.arange(features, features + context))
        # block 0 runs last: its output is the sample (a plain tensor), the others feed the next block
        self.blocks = nn.ModuleList(QuantMADEBlock(features, context, hidden, layers, q, S_MAX, settings.table_bits,
                                                   last=k == 0) for k in range(blocks))
        orders = [torch.arange(features), torch.flipud(torch.arange(features))]
        for k, block in enumerate(self.blocks):  # the float student's masks, block k in order k % 2
            masks = made_masks(orders[k % 2], hidden, layers, context)
            block.register_buffer("mask_in", masks[0][:, :features].float())
            for i, layer in enumerate(block.hidden):
                layer.register_buffer("mask", masks[i + 1].float())
            block.register_buffer("mask_out", masks[-1].float())
        self.apply_masks()

    @torch.no_grad()
    def apply_masks(self) -> None:
        """Zero every masked weight (after each optimizer step: Adam keeps no masked weight alive)."""
        for block in self.blocks:
            block.z_in.weight.mul_(block.mask_in)
            for layer in block.hidden:
                layer.weight.mul_(layer.mask)
            block.scale.weight.mul_(block.mask_out)
            block.shift.weight.mul_(block.mask_out)

    def forward(self, x):
        x = self.input_quant(x)
        z = self.noise_quant(torch.index_select(x, 1, self.noise_index))
        c = self.context_quant(torch.index_select(x, 1, self.context_index))
        for block in reversed(self.blocks):  # as the float student: its last block first
            z = block(z, c)
        return z


@torch.no_grad()
def load_float_student(qmodel: QuantIAFStudent, student) -> None:
    """Copy a float AffineIAF (same sizes) into the quantized network's float weights."""
    for src, dst in zip(student.blocks, qmodel.blocks):
        first = src.hidden[0]
        w = first.weight * first.mask
        dst.z_in.weight.copy_(w[:, :qmodel.features])
        dst.z_in.bias.copy_(first.bias)
        dst.c_in.weight.copy_(w[:, qmodel.features:])
        for a, b in zip(src.hidden[1:], dst.hidden):
            b.weight.copy_(a.weight * a.mask)
            b.bias.copy_(a.bias)
        for a, b in ((src.scale, dst.scale), (src.shift, dst.shift)):
            b.weight.copy_(a.weight * a.mask)
            b.bias.copy_(a.bias)
    qmodel.apply_masks()


def _check(flow: int, run: str | Path | None, reference_config: str) -> None:
    from l1forge.reference.icaloflow.train import CONFIGS

    if flow not in FIRMWARE_FLOWS:
        raise L1ForgeError(f"--flow must be 1 (layer energies) or 3 (one layer's voxels given the one before), got {flow}")
    if reference_config not in CONFIGS:
        raise L1ForgeError(f"--reference-config must be one of {', '.join(CONFIGS)}, got {reference_config!r}")
    if run is not None and not (Path(run) / "run.json").is_file():
        raise L1ForgeError(f"{run}: not an iCaloFlow reference run (no run.json; train one with "
                           "`python -m l1forge.reference.icaloflow train`)")


def build_quantized(flow: int, spec, settings: GeneratorSettings) -> QuantIAFStudent:
    from l1forge.reference.icaloflow.train import CONTEXT, FEATURES

    return QuantIAFStudent(FEATURES[flow], CONTEXT[flow], spec.blocks, spec.hidden, spec.layers, settings,
                           CONTEXT_RANGE[flow])


def train_icaloflow_student(data: str | Path, out: str | Path, flow: int, settings: GeneratorSettings, *,
                            run: str | Path | None = None, reference_config: str = "small", progress=None) -> dict:
    """Quantize the float IAF student of `flow` from an iCaloFlow reference run (trained here on
    `data`, that flow only, when no `run` is given) and fine-tune it to the float student's samples,
    with conditions from the showers in `data`; write model.onnx (QONNX), the quantized weights,
    test_inputs.npz and metrics.json to `out`."""
    from l1forge.compiler.api import export_brevitas
    from l1forge.reference.icaloflow.data import DataError, Prepared, read_showers
    from l1forge.reference.icaloflow.train import CONFIGS, Run, train_run

    from ..train import compare_with_qonnx

    settings.check()
    _check(flow, run, reference_config)
    try:
        energy, showers = read_showers(data)
    except DataError as exc:
        raise L1ForgeError(f"{exc} (icaloflow-student takes dataset-2 showers: `l1forge data showers --geometry ds2`)") from None
    if run is None:
        run = Path(out) / "reference"
        train_run(data, run, CONFIGS[reference_config], seed=settings.seed, flows=(flow,), quiet=progress is None)
    reference = Run(run)
    if flow not in reference.students:
        raise L1ForgeError(f"{run}: the run has no Flow-{flow} student")
    student = reference.students[flow]
    contexts = torch.from_numpy(Prepared(energy, showers, np.random.default_rng(settings.seed)).arrays(flow)[1])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    rng = torch.Generator().manual_seed(settings.seed)
    spec = reference.config.student[flow]
    qmodel = build_quantized(flow, spec, settings)
    load_float_student(qmodel, student)

    def batch(n):
        z = clamp_noise(torch.randn(n, student.features, generator=rng))
        c = contexts[torch.randint(0, len(contexts), (n,), generator=rng)]
        with torch.no_grad():
            target = student(z, c)
        return torch.cat([z, c], 1), target

    start = time.perf_counter()
    curve = finetune(qmodel, batch, settings, progress, after_step=qmodel.apply_masks)
    finetune_s = time.perf_counter() - start
    x, target = batch(20000)
    with torch.no_grad():
        quantized = qmodel(x)
    export_brevitas(qmodel, x[:1], out / "model.onnx")
    torch.save(qmodel.state_dict(), out / "quantized_student.pt")
    np.savez_compressed(out / "test_inputs.npz", x=x[:10000].numpy())
    weights = [m.weight for m in qmodel.modules() if hasattr(m, "weight_quant")]
    summary = {"model": "icaloflow-student", "flow": flow, "data": str(data), "reference_run": str(run),
               "student": asdict(spec), "settings": asdict(settings), "finetune_s": finetune_s,
               "mse_to_float_student": float(torch.mean((quantized - target) ** 2)),
               "target_variance": float(target.var()),
               "weights": int(sum(w.numel() for w in weights)),
               "nonzero_weights": int(sum(int((w != 0).sum()) for w in weights)),
               "brevitas_vs_qonnx": compare_with_qonnx(out / "model.onnx", quantized.numpy(), x.numpy()),
               "loss_curve": curve}
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_quantized_icaloflow(out: str | Path) -> QuantIAFStudent:
    """The quantized student that train_icaloflow_student wrote to `out` (eval mode)."""
    from l1forge.reference.icaloflow.train import NetSpec

    summary = json.loads((Path(out) / "metrics.json").read_text())
    model = build_quantized(summary["flow"], NetSpec(**summary["student"]), GeneratorSettings(**summary["settings"]))
    model.load_state_dict(torch.load(Path(out) / "quantized_student.pt", weights_only=True))
    return model.eval()
