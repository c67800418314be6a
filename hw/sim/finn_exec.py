"""FINN's python execution of a FINN build's HW layers as a co-simulation target, and the one
way l1forge runs the FINN environment's worker (compiler/backends/finn/worker.py): a subprocess
of that environment's Python, answering in JSON; FINN is never imported here."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.ir.integer import check_quant, quant_float_input

from ..tools import run_tool

# Rows whose every layer output is kept when a mismatch asks for the first divergent layer.
TRACE_ROWS = 64
# Rows (frames) streamed through the build's RTL layers in Verilator on every verification.
RTL_ROWS = 64


def run_worker(python: Path, worker: Path, command: str, request: dict, what: str,
               time_limit_s: float | None = None) -> dict:
    """One worker command in the FINN environment; its answer, or a one-line error (FINN's
    traceback goes to the log beside the answer)."""
    with tempfile.TemporaryDirectory(prefix="l1forge-finn-") as tmp:
        answer = Path(tmp) / "answer.json"
        req = Path(tmp) / "request.json"
        req.write_text(json.dumps({**request, "answer": str(answer)}))
        done = run_tool([str(python), str(worker), command, str(req)], what, time_limit_s, cwd=tmp)
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


class FinnPythonSimulator:
    """FINN's own python execution of the HW layers: float inputs -> input codes (the input
    Quant, as the host does) -> FINN -> output codes * 2**-output_frac. Each prediction also
    streams its first RTL_ROWS frames through the stitched build's RTL layers in Verilator
    (finn_rtl.py); `rtl_layers` then lists them, `rtl_not_simulated` those Verilator cannot build."""

    def __init__(self, project, model, python: Path, worker: Path, time_limit_s: float | None = None):
        self.project, self.model, self.time_limit_s = project, model, time_limit_s
        self.python, self.worker = python, worker
        self.quant = model.find_consumer(model.graph.input[0].name)
        self.traces_layers = True
        self.rtl_layers: list[dict] | None = None
        self.rtl_not_simulated: list[dict] = []

    def codes(self, x: np.ndarray) -> np.ndarray:
        codes = quant_float_input(x, check_quant(self.model, self.quant), self.quant)
        return codes.reshape([len(x)] + self.project.interface["input_shape"]).astype(np.float64)

    def _execute(self, x: np.ndarray, layer_rows: int = 0, rtl_rows: int = 0) -> tuple[np.ndarray, dict]:
        with tempfile.TemporaryDirectory(prefix="l1forge-finn-exec-") as tmp:
            t = Path(tmp)
            np.save(t / "codes.npy", self.codes(x))
            request = {"graph": str(self.project.hw_graph), "codes": str(t / "codes.npy"),
                       "outputs": str(t / "out.npy"), "layer_rows": layer_rows, "layer_outputs": str(t / "layers.npz"),
                       "rtl_rows": rtl_rows, "folded": str(self.project.path / "folded.onnx")}
            answer = run_worker(self.python, self.worker, "execute", request,
                                f"FINN python execution of {len(x)} inputs", self.time_limit_s)
            out = np.load(t / "out.npy") * 2.0 ** -self.project.interface["output_frac"]
            layers = dict(np.load(t / "layers.npz")) if layer_rows else {}
        return out, {"nodes": answer["nodes"], "layers": layers, "rtl_layers": answer.get("rtl_layers", [])}

    def predict(self, x: np.ndarray) -> np.ndarray:
        from .finn_rtl import simulate_rtl_layers

        out, answer = self._execute(x, rtl_rows=min(len(x), RTL_ROWS))
        self.rtl_layers, self.rtl_not_simulated = simulate_rtl_layers(answer["rtl_layers"],
                                                                      self.project.path / "rtl_sim", self.time_limit_s)
        return out

    def layer_outputs(self, x: np.ndarray) -> list[tuple[str, str, str, np.ndarray]]:
        """(FINN layer, op, canonical node, values) in graph order, for the layers whose output is
        a canonical node's (a fused MVAU's output is its Quant's)."""
        _, traced = self._execute(x[:TRACE_ROWS], layer_rows=min(len(x), TRACE_ROWS))
        tensors = self.project.interface["canonical_tensors"]  # FINN tensor -> (canonical node, frac)
        rows = []
        for name, op, tensor in traced["nodes"]:
            if tensor in tensors and name in traced["layers"]:
                canonical, frac = tensors[tensor]
                rows.append((name, op, canonical, traced["layers"][name] * 2.0 ** -frac))
        return rows
