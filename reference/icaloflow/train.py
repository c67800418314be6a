"""Training iCaloFlow: three teacher MAFs by maximum likelihood, then an IAF student per flow by
distillation.

PAPER is the paper's configuration (its public run.py for dataset 2: 8 spline MADE blocks of 256
hidden units, one hidden layer for Flow-1 and two for Flows 2 and 3, batches of 1,000, Adam with a
one-cycle schedule; students of the teacher's size distilled with beta = 0.5; the paper distils
Flows 2 and 3 only, l1forge also Flow-1, whose student is the firmware's energy sampler). SMALL
trains in minutes on 2 CPU cores, with smaller students. A run directory holds run.json and one
state file per flow and role.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .data import FLOW3_CONTEXT, N_LAYERS, VOXELS_PER_LAYER, Prepared, read_showers
from .flows import AffineIAF, build_teacher, distillation_loss

FLOWS = (1, 2, 3)
FEATURES = {1: N_LAYERS, 2: VOXELS_PER_LAYER, 3: VOXELS_PER_LAYER}
CONTEXT = {1: 1, 2: 2, 3: FLOW3_CONTEXT}


@dataclass(frozen=True)
class NetSpec:
    """One flow's network and its training."""
    blocks: int
    hidden: int
    layers: int
    steps: int
    max_lr: float
    batch: int = 1000


@dataclass(frozen=True)
class ICaloFlowConfig:
    teacher: dict[int, NetSpec]
    student: dict[int, NetSpec]
    beta: float = 0.5  # weight of the x-loss in the distillation

    def to_dict(self) -> dict:
        return {"beta": self.beta, **{role: {str(k): asdict(v) for k, v in getattr(self, role).items()}
                                      for role in ("teacher", "student")}}

    @classmethod
    def from_dict(cls, d: dict) -> "ICaloFlowConfig":
        return cls(**{role: {int(k): NetSpec(**v) for k, v in d[role].items()} for role in ("teacher", "student")},
                   beta=d["beta"])


PAPER = ICaloFlowConfig(
    teacher={1: NetSpec(8, 256, 1, 35_000, 1e-4), 2: NetSpec(8, 256, 2, 14_000, 1e-3), 3: NetSpec(8, 256, 2, 184_800, 1e-3)},
    student={1: NetSpec(8, 256, 1, 35_000, 1e-4), 2: NetSpec(8, 256, 2, 28_000, 1e-3), 3: NetSpec(8, 256, 2, 308_000, 5e-4)})
SMALL = replace(
    PAPER,
    teacher={1: NetSpec(4, 64, 1, 1000, 3e-3, 500), 2: NetSpec(4, 64, 2, 800, 2e-3, 500), 3: NetSpec(4, 64, 2, 1500, 2e-3, 500)},
    student={1: NetSpec(4, 32, 1, 1000, 2e-3, 500), 2: NetSpec(4, 32, 1, 800, 2e-3, 500), 3: NetSpec(4, 32, 1, 1500, 2e-3, 500)})
CONFIGS = {"paper": PAPER, "small": SMALL}


def build_student(flow: int, spec: NetSpec) -> AffineIAF:
    return AffineIAF(FEATURES[flow], CONTEXT[flow], spec.blocks, spec.hidden, spec.layers)


def build_flow_teacher(flow: int, spec: NetSpec):
    return build_teacher(FEATURES[flow], CONTEXT[flow], spec.blocks, spec.hidden, spec.layers)


def _bar(description: str, total: int, quiet: bool) -> Progress:
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[status]}"), TimeRemainingColumn(), disable=quiet)
    progress.add_task(description, total=total, status="")
    return progress


def fit_steps(description: str, module: torch.nn.Module, spec: NetSpec, loss_fn, n_train: int, quiet: bool,
         seed: int) -> list[float]:
    """Adam with the paper's one-cycle schedule over spec.steps batches; the loss curve (~100 points)."""
    opt = torch.optim.Adam(module.parameters(), lr=spec.max_lr / 10)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, spec.max_lr, total_steps=spec.steps, pct_start=0.4)
    gen = torch.Generator().manual_seed(seed)
    curve, window, every = [], [], max(1, spec.steps // 100)
    with _bar(description, spec.steps, quiet) as bar:
        for _ in range(spec.steps):
            index = torch.randint(0, n_train, (spec.batch,), generator=gen)
            loss = loss_fn(index)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 10.0)
            opt.step()
            sched.step()
            window.append(float(loss.detach()))
            if len(window) == every:
                curve.append(float(np.mean(window)))
                window = []
                bar.update(0, advance=every, status=f"loss {curve[-1]:.3f}")
    return curve


def train_teacher(flow: int, spec: NetSpec, x: torch.Tensor, c: torch.Tensor, seed: int, quiet: bool = False):
    """Maximum likelihood; returns (teacher, curve of the mean negative log-likelihood)."""
    torch.manual_seed(seed)
    teacher = build_flow_teacher(flow, spec)
    curve = fit_steps(f"Flow-{flow} teacher (MAF)", teacher, spec, lambda i: -teacher(c[i]).log_prob(x[i]).mean(),
                 len(x), quiet, seed)
    return teacher.eval(), curve


def distill_student(flow: int, spec: NetSpec, teacher, x: torch.Tensor, c: torch.Tensor, beta: float, seed: int,
                    quiet: bool = False):
    """The paper's distillation (flows.distillation_loss); returns (student, loss curve)."""
    torch.manual_seed(seed)
    teacher.requires_grad_(False)
    student = build_student(flow, spec)
    curve = fit_steps(f"Flow-{flow} student (IAF)", student, spec,
                 lambda i: distillation_loss(student, teacher, x[i], c[i], beta)[0], len(x), quiet, seed)
    return student.eval(), curve


@torch.no_grad()
def held_out(teacher, student, x: torch.Tensor, c: torch.Tensor, beta: float) -> dict:
    """Held-out teacher NLL per dimension and the student's distillation losses."""
    nll = float(-teacher(c).log_prob(x).mean()) / x.shape[1]
    _, parts = distillation_loss(student, teacher, x, c, beta)
    return {"teacher_nll_per_dim": nll, **{k: v / x.shape[1] for k, v in parts.items()}}


def train_run(data: str | Path, out: str | Path, config: ICaloFlowConfig, seed: int = 0, limit: int | None = None,
              flows: tuple[int, ...] = FLOWS, quiet: bool = False, validation: float = 0.1) -> dict:
    """Train the teachers and students of `flows` on a dataset-2 file; write them to `out`."""
    energy, showers = read_showers(data, limit)
    n_val = max(1, int(len(energy) * validation))
    if len(energy) - n_val < 10:
        raise ValueError(f"{data}: {len(energy)} showers are too few to train on (need at least {n_val + 10})")
    prepared = Prepared(energy, showers, np.random.default_rng(seed))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"data": str(data), "showers": len(energy), "validation_showers": n_val, "seed": seed,
               "config": config.to_dict(), "flows": {}}
    for flow in flows:
        x, c = (torch.from_numpy(a) for a in prepared.arrays(flow))
        per_shower = len(x) // len(energy)
        split = (len(energy) - n_val) * per_shower  # the last showers are held out
        start = time.perf_counter()
        teacher, t_curve = train_teacher(flow, config.teacher[flow], x[:split], c[:split], seed, quiet)
        t_seconds = time.perf_counter() - start
        start = time.perf_counter()
        student, s_curve = distill_student(flow, config.student[flow], teacher, x[:split], c[:split], config.beta,
                                           seed, quiet)
        s_seconds = time.perf_counter() - start
        torch.save(teacher.state_dict(), out / f"flow{flow}_teacher.pt")
        torch.save(student.state_dict(), out / f"flow{flow}_student.pt")
        summary["flows"][str(flow)] = {"teacher_s": t_seconds, "student_s": s_seconds,
                                       "held_out": held_out(teacher, student, x[split:][:20000], c[split:][:20000], config.beta),
                                       "teacher_curve": t_curve, "student_curve": s_curve}
        (out / "run.json").write_text(json.dumps(summary, indent=1))
    return summary


class Run:
    """A trained run directory: its config and the flows it holds (teacher and student each)."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not (path / "run.json").is_file():
            raise FileNotFoundError(f"{path}: not an iCaloFlow run (no run.json; train one with "
                                    "`python -m l1forge.reference.icaloflow train`)")
        self.path = path
        self.summary = json.loads((path / "run.json").read_text())
        self.config = ICaloFlowConfig.from_dict(self.summary["config"])
        self.teachers, self.students = {}, {}
        for key in self.summary["flows"]:
            flow = int(key)
            self.teachers[flow] = build_flow_teacher(flow, self.config.teacher[flow])
            self.teachers[flow].load_state_dict(torch.load(path / f"flow{flow}_teacher.pt", weights_only=True))
            self.students[flow] = build_student(flow, self.config.student[flow])
            self.students[flow].load_state_dict(torch.load(path / f"flow{flow}_student.pt", weights_only=True))
            self.teachers[flow].eval().requires_grad_(False)
            self.students[flow].eval().requires_grad_(False)

    def require(self, flows=FLOWS) -> None:
        missing = [f for f in flows if f not in self.teachers]
        if missing:
            raise FileNotFoundError(f"{self.path}: the run has no Flow-{', Flow-'.join(map(str, missing))}")
