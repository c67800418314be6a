"""A FINN build on disk (folder `finn_prj/`) and the simulator that runs it: FINN's python
execution of the HW-layer graph, through the FINN environment's worker (worker.py).

    finn_prj/lowered.onnx     the integer graph l1forge hands FINN (lowering.py)
    finn_prj/hw_layers.onnx   FINN's HW layers (MVAU, Thresholding, ElementwiseAdd), python-executable
    finn_prj/folded.onnx      specialised (HLS/RTL variants) and folded (PE, SIMD) for the target
    finn_prj/code/<layer>/    each layer's generated HLS C++ or Verilog and its synthesis script
    finn_prj/project.json     the host interface: input shape and grids, FINN's per-layer figures
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1forge.hw.tools import run_tool

from ...atomic import write_atomic
from ...errors import L1ForgeError
from ...ir.integer import check_quant, quant_float_input

WORKER = Path(__file__).with_name("worker.py")
FINN_ENV = ".venv-finn"
# Rows whose every layer output is kept when a mismatch asks for the first divergent layer.
TRACE_ROWS = 64


def finn_python() -> Path:
    """The FINN environment's interpreter: $L1FORGE_FINN_PYTHON, else .venv-finn beside the
    checkout (`make setup` creates it); a one-line error when neither exists."""
    env = os.environ.get("L1FORGE_FINN_PYTHON")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[3] / FINN_ENV / "bin" / "python",
                                          Path(sys.prefix).parent / FINN_ENV / "bin" / "python"]
    for path in candidates:
        if path.is_file():
            return path
    raise L1ForgeError(f"the finn backend needs the FINN environment ({candidates[0]} not found): run `make setup`, "
                       "or point L1FORGE_FINN_PYTHON at a Python with finn-plus 1.6.1")


def run_worker(command: str, request: dict, what: str, time_limit_s: float | None = None) -> dict:
    """One worker command in the FINN environment; its answer, or a one-line error (FINN's
    traceback goes to the log beside the answer)."""
    with tempfile.TemporaryDirectory(prefix="l1forge-finn-") as tmp:
        answer = Path(tmp) / "answer.json"
        req = Path(tmp) / "request.json"
        req.write_text(json.dumps({**request, "answer": str(answer)}))
        done = run_tool([str(finn_python()), str(WORKER), command, str(req)], what, time_limit_s, cwd=tmp)
        log = request.get("log")
        if log:
            Path(log).write_text(done.stdout + done.stderr)
        if not answer.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise L1ForgeError(f"{what} stopped without an answer (exit {done.returncode}): {last}")
        result = json.loads(answer.read_text())
    if not result["ok"]:
        raise L1ForgeError(f"finn backend: {result['error']}")
    return result


@dataclass
class FinnProject:
    path: Path
    interface: dict  # project.json

    @property
    def hw_graph(self) -> Path:
        return self.path / "hw_layers.onnx"

    def write_interface(self) -> None:
        write_atomic(self.path / "project.json", json.dumps(self.interface, indent=2) + "\n")


def open_finn_project(path: Path) -> FinnProject:
    """An existing finn_prj folder (what `l1forge cosim` reopens)."""
    interface = Path(path) / "project.json"
    if not interface.is_file() or not (Path(path) / "hw_layers.onnx").is_file():
        raise L1ForgeError(f"{path} is not a FINN build of l1forge (project.json or hw_layers.onnx missing)")
    return FinnProject(Path(path), json.loads(interface.read_text()))


class FinnPythonSimulator:
    """FINN's own python execution of the HW layers: float inputs -> input codes (the input
    Quant, as the host does) -> FINN -> output codes * 2**-output_frac."""

    def __init__(self, project: FinnProject, model, time_limit_s: float | None = None):
        self.project, self.model, self.time_limit_s = project, model, time_limit_s
        self.quant = model.find_consumer(model.graph.input[0].name)
        self.traces_layers = True

    def codes(self, x: np.ndarray) -> np.ndarray:
        codes = quant_float_input(x, check_quant(self.model, self.quant), self.quant)
        return codes.reshape([len(x)] + self.project.interface["input_shape"]).astype(np.float32)

    def _execute(self, x: np.ndarray, layer_rows: int = 0) -> tuple[np.ndarray, dict]:
        with tempfile.TemporaryDirectory(prefix="l1forge-finn-exec-") as tmp:
            t = Path(tmp)
            np.save(t / "codes.npy", self.codes(x))
            answer = run_worker("execute", {"graph": str(self.project.hw_graph), "codes": str(t / "codes.npy"),
                                            "outputs": str(t / "out.npy"), "layer_rows": layer_rows,
                                            "layer_outputs": str(t / "layers.npz")},
                                f"FINN python execution of {len(x)} inputs", self.time_limit_s)
            out = np.load(t / "out.npy") * 2.0 ** -self.project.interface["output_frac"]
            layers = dict(np.load(t / "layers.npz")) if layer_rows else {}
        return out, {"nodes": answer["nodes"], "layers": layers}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._execute(x)[0]

    def layer_outputs(self, x: np.ndarray) -> list[tuple[str, str, str, np.ndarray]]:
        """(FINN layer, op, canonical tensor, values) in graph order, for the layers whose output
        is a canonical tensor (a fused MVAU's output is its Quant's)."""
        _, traced = self._execute(x[:TRACE_ROWS], layer_rows=min(len(x), TRACE_ROWS))
        tensors = self.project.interface["canonical_tensors"]  # FINN tensor -> (canonical tensor, frac)
        rows = []
        for name, op, tensor in traced["nodes"]:
            if tensor in tensors and name in traced["layers"]:
                canonical, frac = tensors[tensor]
                rows.append((name, op, canonical, traced["layers"][name] * 2.0 ** -frac))
        return rows
