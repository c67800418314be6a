"""hls4ml C simulation: build the project's bit-accurate C++ model with g++ and run it, in a
forked child process (a C++ assertion in the model ends the child, not l1forge)."""
from __future__ import annotations

import time

import numpy as np

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.quiet import silenced_stdout

from .isolate import ChildCrashed, run_isolated


def _isolated(fn, *args):
    try:
        with silenced_stdout():
            return run_isolated(fn, *args)
    except ChildCrashed as exc:
        raise L1ForgeError(f"the hls4ml C simulation crashed ({exc}): an l1forge bug, please report it with "
                           "the model") from None


class HlsCSimulator:
    """Compile an hls4ml project once; predict and trace batches through the C simulation."""

    def __init__(self, project):
        self.project = project
        self.build_seconds = None

    def build(self) -> float:
        start = time.perf_counter()
        with silenced_stdout():
            self.project.hls_model.compile()
        self.build_seconds = time.perf_counter() - start
        return self.build_seconds

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.build_seconds is None:
            self.build()
        flat = np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)
        y = _isolated(self.project.hls_model.predict, flat)
        return np.asarray(y, dtype=np.float64).reshape(len(x), -1)

    def trace(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Per-layer outputs (hls4ml recompiles with tracing on first use)."""
        flat = np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)
        _, trace = _isolated(self.project.hls_model.trace, flat)
        return {k: np.asarray(v, dtype=np.float64) for k, v in trace.items()}

    @property
    def traces_layers(self) -> bool:
        """Whether layer_outputs can name layers: not for a project reopened from its folder."""
        return self.project.layers is not None

    def layer_outputs(self, x: np.ndarray) -> list[tuple[str, str, str, np.ndarray]]:
        """(layer name, what it implements, the model node whose output it is, values) per traced
        layer, in order."""
        trace = self.trace(x)
        return [(layer.spec["name"], "+".join(layer.sources), layer.sources[-1], trace[layer.spec["name"]])
                for layer in self.project.layers if layer.spec["name"] in trace and layer.sources]
