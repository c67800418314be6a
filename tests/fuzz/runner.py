"""Run one fuzz case to exactly one outcome, and shrink a defect to a small case.

Outcomes: "bit-exact" (compiled; the emulator equals QONNX execution of the canonical model and
Brevitas' own forward pass, and every backend that ran equals the emulator) or "refused" (one
`L1ForgeError` line naming the node and rule), each with the stage that decided it. Anything else
is a defect: "crash" (another exception: a traceback for the user), "multiline" (an error that is
not one line), "mismatch" (numbers differ), "timeout", "half-written" (a failed compile left a
folder behind). "export" means Brevitas or torch could not build or export the drawn model: not
l1forge's code, counted apart.

Depths: 1 = frontend, passes, verify, emulator vs QONNX vs Brevitas, and da4ml's traced program;
2 = also the hls4ml C simulation; 3 = also Verilator.
"""
from __future__ import annotations

import tempfile
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .grammar import Case, build, input_shape

DEFECTS = ("crash", "multiline", "mismatch", "timeout", "half-written")


@dataclass
class Outcome:
    kind: str  # bit-exact, refused, export, or one of DEFECTS
    stage: str = ""
    detail: str = ""
    rule: str = ""  # refused: the rule named

    @property
    def is_defect(self) -> bool:
        return self.kind in DEFECTS

    def to_dict(self) -> dict:
        return {"kind": self.kind, "stage": self.stage, "detail": self.detail, "rule": self.rule}


def _error(stage: str, exc: Exception) -> Outcome:
    from l1forge.compiler.errors import L1ForgeError

    if not isinstance(exc, L1ForgeError):
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        return Outcome("crash", stage, f"{type(exc).__name__} at {where}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
    text = str(exc)
    if "\n" in text.strip():
        return Outcome("multiline", stage, text[:300])
    if text.startswith(("firmware differs", "the integer emulator differs")):
        return Outcome("mismatch", stage, text[:300])
    rule = getattr(exc, "rule", None) or text.split(": ")[1 if text.startswith("node ") else 0][:120]
    return Outcome("refused", stage, text[:300], rule)


def _widest(model) -> int:
    from l1forge.compiler.ir.types import infer_fixed_point_types

    return max(t.width for t in infer_fixed_point_types(model).values())


def _brevitas_comparable(model) -> bool:
    """Brevitas computes in float32: its outputs are the exact integers while every tensor fits 24
    bits, and a division moved past a linear layer can differ from its float32 rounding at an
    exact tie (the exact value is l1forge's meaning; see test_division.py)."""
    nodes = {n.output[0]: n for n in model.graph.node}
    for node in model.graph.node:
        if node.op_type == "DivQuant" and nodes.get(node.input[0], node).op_type != "ReduceSum":
            return False
    return _widest(model) <= 24


def _compare(a: np.ndarray, b: np.ndarray, what: str) -> Outcome | None:
    rows = np.any(a.reshape(len(a), -1) != b.reshape(len(b), -1), axis=1)
    if rows.any():
        i = int(np.flatnonzero(rows)[0])
        return Outcome("mismatch", what, f"{int(rows.sum())} of {len(a)} rows differ; row {i}: "
                                         f"{a.reshape(len(a), -1)[i][:4].tolist()} vs {b.reshape(len(b), -1)[i][:4].tolist()}")
    return None


def run_case(case: Case, depth: int = 1, n_inputs: int = 500, time_limit: int = 300,
             workdir: Path | None = None) -> Outcome:
    """The outcome of one case (see the module docstring), computed in a forked child process: a
    crash of native code or a hang ends the child and is this case's defect."""
    from l1forge.hw.sim.isolate import ChildCrashed, run_isolated

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        try:
            return run_isolated(_run, case, depth, n_inputs, Path(tmp), timeout=time_limit)
        except ChildCrashed as exc:
            return Outcome("timeout" if exc.how.startswith("over") else "crash", "process", str(exc)[:300])


def _run(case: Case, depth: int, n_inputs: int, tmp: Path) -> Outcome:
    from l1forge.compiler.backends.rtl.trace import trace_model
    from l1forge.compiler.frontends.brevitas import export_brevitas
    from l1forge.compiler.ir import verify
    from l1forge.compiler.ir.emulator import emulate
    from l1forge.compiler.passes.canonicalize import canonicalize
    from l1forge.compiler.pipeline import compile_model
    from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute, qonnx_reference_precision

    try:
        module = build(case)
        source = export_brevitas(module, torch.zeros(1, *input_shape(case)), tmp / "model.onnx", dynamo=case.dynamo)
    except Exception as exc:  # Brevitas / torch could not make this model
        return Outcome("export", "brevitas", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
    stage = "passes"
    try:
        model = canonicalize(source)
        verify(model)
        stage = "emulator"
        x = grid_inputs(model, n_inputs, seed=case.seed)
        emu = emulate(model, x).reshape(len(x), -1)
        found = _compare(emu, qonnx_execute(model, x, precision=qonnx_reference_precision(model)), "emulator vs qonnx")
        if found is None and _brevitas_comparable(model):
            with torch.no_grad():
                reference = module(torch.from_numpy(x)).numpy().astype(np.float64)
            found = _compare(emu, reference, "emulator vs brevitas")
        if found is not None:
            return found
        stage = "rtl-trace"
        found = _compare(trace_model(model).predict(x.reshape(len(x), -1)), emu, "da4ml trace vs emulator")
        if found is not None:
            return found
        for backend, needed in (("hls4ml", 2), ("rtl", 3)):
            if depth < needed:
                continue
            stage, out = backend, tmp / backend
            try:
                compile_model(model, out, backend=backend, data=x, n_random=0, synth=False, log=lambda m: None)
            except Exception:
                if out.exists() or any(p.name.startswith(f".{backend}.partial") for p in tmp.iterdir()):
                    return Outcome("half-written", backend, "a failed compile left a folder")
                raise
    except Exception as exc:
        return _error(stage, exc)
    return Outcome("bit-exact", f"depth {depth}")


def _simpler(case: Case):
    """Smaller variants of a case, most reducing first."""
    for key in ("rho", "phi"):
        layers = getattr(case, key)
        for i in range(len(layers)):
            if key == "phi" and len(layers) == 1:
                continue
            yield replace(case, **{key: layers[:i] + layers[i + 1:]})
    if case.dynamo:
        yield replace(case, dynamo=False)
    if case.extreme != "none":
        yield replace(case, extreme="none")
    if case.family == "intnet":
        yield replace(case, family="deepset")
    if case.n > 2 and case.family != "mlp":
        yield replace(case, n=case.n - 1)
    if case.f > 1:
        yield replace(case, f=case.f - 1)
    if case.out > 1:
        yield replace(case, out=1)
    for key in ("phi", "rho"):
        for i, layer in enumerate(getattr(case, key)):
            for change in ({"width": max(1, layer.width // 2)}, {"residual": False}, {"per_channel": False},
                           {"bias": False}, {"narrow": False}, {"rounding": "ROUND"}):
                simpler = replace(layer, **change)
                if simpler != layer:
                    layers = list(getattr(case, key))
                    layers[i] = simpler
                    yield replace(case, **{key: layers})


def shrink(case: Case, outcome: Outcome, depth: int, budget: int = 60, log=lambda m: None) -> tuple[Case, Outcome]:
    """A smaller case with a defect of the same kind (greedy: keep the first simpler variant that
    still fails, until none does or `budget` runs are spent)."""
    runs = 0
    improved = True
    while improved and runs < budget:
        improved = False
        for simpler in _simpler(case):
            runs += 1
            found = run_case(simpler, depth)
            if found.kind == outcome.kind:
                case, outcome, improved = simpler, found, True
                log(f"shrunk to {case.label}: {found.detail[:100]}")
                break
            if runs >= budget:
                break
    return case, outcome
