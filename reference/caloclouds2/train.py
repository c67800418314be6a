"""Training CaloClouds II: ShowerFlow, the EDM teacher, and the consistency-distilled student.

PAPER is CaloClouds II's configuration (its configs.py: PointWiseNet 128-256-512-256-128 with a
64-wide time embedding, RAdam at lr 1e-4, 128 showers per batch, EMA of the teacher with power
2/3 up to 0.9999, distillation over 18 Karras levels with a target EMA of 0.95); SMALL trains in
minutes on 2 CPU cores. A run directory holds config.json and one state file per component.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ..files import DataError
from .data import PointScaler, read_showers, shower_features
from .edm import Denoiser, EDMSettings, consistency_distillation_loss, edm_loss
from .networks import PointWiseNet
from .showerflow import ShowerFlow


@dataclass(frozen=True)
class CaloClouds2Config:
    hidden: tuple[int, ...] = (128, 256, 512, 256, 128)
    time_dim: int = 64
    fourier_std: float = 16.0
    teacher_iterations: int = 2_000_000
    teacher_batch_points: int = 128 * 1500  # 128 showers of ~1,500 points
    teacher_lr: float = 1e-4
    ema_power: float = 2 / 3
    ema_max: float = 0.9999
    student_iterations: int = 200_000
    student_batch_points: int = 256 * 1500
    student_lr: float = 1e-4
    n_scales: int = 18
    target_ema: float = 0.95
    flow_transforms: int = 10
    flow_hidden: tuple[int, ...] = (256, 256)
    flow_epochs: int = 200
    flow_batch: int = 256
    flow_lr: float = 1e-3
    sample_steps: int = 13  # Heun: 2 x 13 - 1 = 25 network evaluations

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CaloClouds2Config":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


PAPER = CaloClouds2Config()
SMALL = replace(PAPER, hidden=(64, 64, 64), time_dim=16, teacher_iterations=12000, teacher_batch_points=4096,
                teacher_lr=1e-3, ema_power=3 / 4, student_iterations=4000, student_batch_points=4096,
                student_lr=5e-4, flow_transforms=3, flow_hidden=(64, 64), flow_epochs=60, flow_batch=128)
CONFIGS = {"paper": PAPER, "small": SMALL}


def build_denoiser(config: CaloClouds2Config, scaler: PointScaler, consistency: bool) -> Denoiser:
    edm = EDMSettings(sigma_data=scaler.sigma_data)
    return Denoiser(PointWiseNet(4, 2, config.hidden, config.time_dim, config.fourier_std), edm, consistency)


def progress_bar(description: str, total: int, quiet: bool) -> Progress:
    """A rich progress bar with a status field (hidden when quiet)."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[status]}"), TimeRemainingColumn(), disable=quiet)
    progress.add_task(description, total=total, status="")
    return progress


class _PointBatches:
    """Random batches of normalised points with their showers' context."""

    def __init__(self, scaler: PointScaler, energy: np.ndarray, showers: list[np.ndarray], rng: np.random.Generator):
        counts = np.array([len(s) for s in showers])
        self.points = torch.from_numpy(scaler.points(showers, rng))
        self.context = torch.from_numpy(np.repeat(scaler.context(energy, counts), counts, axis=0))
        self.rng = rng

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(self.rng.integers(0, len(self.points), n))
        return self.points[index], self.context[index]


def train_flow(config: CaloClouds2Config, energy: np.ndarray, showers: list[np.ndarray], seed: int,
               quiet: bool = False) -> tuple[ShowerFlow, list[float]]:
    torch.manual_seed(seed)
    feats = shower_features(showers)
    flow = ShowerFlow(feats.shape[1], config.flow_transforms, config.flow_hidden, (float(energy.min()), float(energy.max())))
    flow.set_scale(feats)
    x, e = torch.as_tensor(feats, dtype=torch.float32), torch.as_tensor(energy, dtype=torch.float32)
    opt = torch.optim.Adam(flow.parameters(), lr=config.flow_lr)
    losses = []
    with progress_bar("ShowerFlow", config.flow_epochs, quiet) as bar:
        for _ in range(config.flow_epochs):
            order, total = torch.randperm(len(x)), 0.0
            for lo in range(0, len(x), config.flow_batch):
                idx = order[lo:lo + config.flow_batch]
                loss = flow.nll(x[idx], e[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(x))
            bar.update(0, advance=1, status=f"nll {losses[-1]:.2f}")
    return flow, losses


def _ema_update(average: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for a, p in zip(average.parameters(), model.parameters()):
            a.lerp_(p, 1 - decay)


def train_teacher(config: CaloClouds2Config, batches: _PointBatches, scaler: PointScaler, seed: int,
                  quiet: bool = False) -> tuple[Denoiser, list[float]]:
    """The EDM teacher; returns its EMA weights (what the paper samples with) and the loss curve
    (mean per 1% of the iterations)."""
    torch.manual_seed(seed)
    teacher = build_denoiser(config, scaler, consistency=False)
    average = copy.deepcopy(teacher)
    opt = torch.optim.RAdam(teacher.parameters(), lr=config.teacher_lr)
    return average, _loop("teacher (EDM)", config.teacher_iterations, quiet, opt, teacher.parameters(),
                          lambda: edm_loss(teacher, *batches.draw(config.teacher_batch_points)),
                          lambda step: _ema_update(average, teacher, min(config.ema_max, 1 - (1 + step) ** -config.ema_power)))


def distill_student(config: CaloClouds2Config, teacher: Denoiser, batches: _PointBatches, seed: int,
                    quiet: bool = False) -> tuple[Denoiser, list[float]]:
    """Consistency distillation: the student starts from the teacher's weights."""
    torch.manual_seed(seed)
    student = Denoiser(copy.deepcopy(teacher.net), teacher.edm, consistency=True)
    target = copy.deepcopy(student)
    opt = torch.optim.RAdam(student.parameters(), lr=config.student_lr)
    return student, _loop("student (consistency distillation)", config.student_iterations, quiet, opt,
                          student.parameters(),
                          lambda: consistency_distillation_loss(student, target, teacher,
                                                                *batches.draw(config.student_batch_points), config.n_scales),
                          lambda step: _ema_update(target, student, config.target_ema))


def _loop(description: str, iterations: int, quiet: bool, opt, params, loss_fn, after_step) -> list[float]:
    params = list(params)
    curve, window = [], []
    every = max(1, iterations // 100)
    with progress_bar(description, iterations, quiet) as bar:
        for step in range(iterations):
            loss = loss_fn()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            after_step(step)
            window.append(float(loss.detach()))
            if len(window) == every:
                curve.append(float(np.mean(window)))
                window = []
                bar.update(0, advance=every, status=f"loss {curve[-1]:.4f}")
    return curve


def train_run(data: str | Path, out: str | Path, config: CaloClouds2Config, seed: int = 0,
              limit: int | None = None, quiet: bool = False) -> dict:
    """Train ShowerFlow, the teacher and the student on a shower file; write them to `out`."""
    energy, showers = read_showers(data, limit)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scaler = PointScaler.fit(energy, showers, EDMSettings().sigma_data)
    batches = _PointBatches(scaler, energy, showers, rng)
    times = {}
    start = time.perf_counter()
    flow, flow_curve = train_flow(config, energy, showers, seed, quiet)
    times["flow_s"] = time.perf_counter() - start
    start = time.perf_counter()
    teacher, teacher_curve = train_teacher(config, batches, scaler, seed, quiet)
    times["teacher_s"] = time.perf_counter() - start
    start = time.perf_counter()
    student, student_curve = distill_student(config, teacher, batches, seed, quiet)
    times["student_s"] = time.perf_counter() - start
    for name, module in (("showerflow", flow), ("teacher", teacher), ("student", student)):
        torch.save(module.state_dict(), out / f"{name}.pt")
    summary = {"model": "CaloClouds II", "data": str(data), "showers": len(showers), "points": int(len(batches.points)),
               "seed": seed,
               "config": config.to_dict(), "scaler": scaler.to_dict(), "seconds": times,
               "curves": {"showerflow_nll": flow_curve, "teacher_loss": teacher_curve, "student_loss": student_curve}}
    (out / "run.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_run(run: str | Path) -> tuple[CaloClouds2Config, PointScaler, ShowerFlow, Denoiser, Denoiser]:
    """(config, scaler, ShowerFlow, teacher, student) of a trained run directory."""
    run = Path(run)
    if not (run / "run.json").is_file():
        raise FileNotFoundError(f"{run}: not a CaloClouds II run (no run.json; train one first)")
    summary = json.loads((run / "run.json").read_text())
    if summary.get("model", "CaloClouds II") != "CaloClouds II":  # runs before the tag carry none
        raise DataError(f"{run}: not a CaloClouds II run (its run.json is of {summary['model']!r})")
    config, scaler = CaloClouds2Config.from_dict(summary["config"]), PointScaler.from_dict(summary["scaler"])
    flow_state = torch.load(run / "showerflow.pt", weights_only=True)
    flow = ShowerFlow(len(flow_state["mean"]), config.flow_transforms, config.flow_hidden, scaler.energy_range)
    flow.load_state_dict(flow_state)
    teacher, student = build_denoiser(config, scaler, False), build_denoiser(config, scaler, True)
    teacher.load_state_dict(torch.load(run / "teacher.pt", weights_only=True))
    student.load_state_dict(torch.load(run / "student.pt", weights_only=True))
    return config, scaler, flow.eval(), teacher.eval(), student.eval()
