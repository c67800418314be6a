"""A FINN build on disk (folder `finn_prj/`) and where the FINN environment is.

    finn_prj/lowered.onnx     the integer graph l1forge hands FINN (lowering.py)
    finn_prj/hw_layers.onnx   FINN's HW layers (MVAU, Thresholding, ElementwiseAdd), python-executable
    finn_prj/folded.onnx      specialised (HLS/RTL variants), folded (PE, SIMD) for the target and
                              stitch-ready (data-width converters between layers)
    finn_prj/code/<layer>/    each layer's generated HLS C++ or Verilog and its synthesis script
    finn_prj/rtl_sim/         the RTL layers' Verilator testbench build (hw/sim/finn_rtl.py)
    finn_prj/project.json     the host interface: input shape and grids, FINN's per-layer figures
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ...atomic import write_atomic
from ...errors import L1ForgeError

WORKER = Path(__file__).with_name("worker.py")
FINN_ENV = ".venv-finn"


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


@dataclass
class FinnProject:
    path: Path
    interface: dict  # project.json

    @property
    def hw_graph(self) -> Path:
        return self.path / "hw_layers.onnx"

    def write_interface(self) -> None:
        write_atomic(self.path / "project.json", json.dumps(self.interface, indent=2) + "\n")

    def relocate(self, final: Path) -> None:
        """Rewrite what names the staging folder (each layer's code_gen_dir_ipgen in folded.onnx,
        the source folder in its synthesis script) to `final`, the folder the build ends up in."""
        import onnx

        old, new = str(self.path.resolve()), str(Path(final).resolve())
        for script in (self.path / "code").rglob("*.tcl"):
            script.write_text(script.read_text().replace(old, new))
        folded = self.path / "folded.onnx"
        model = onnx.load(str(folded))
        for node in model.graph.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.STRING and old.encode() in a.s:
                    a.s = a.s.replace(old.encode(), new.encode())
        onnx.save(model, str(folded))


def open_finn_project(path: Path) -> FinnProject:
    """An existing finn_prj folder (what `l1forge cosim` reopens)."""
    interface = Path(path) / "project.json"
    if not interface.is_file() or not (Path(path) / "hw_layers.onnx").is_file():
        raise L1ForgeError(f"{path} is not a FINN build of l1forge (project.json or hw_layers.onnx missing)")
    return FinnProject(Path(path).resolve(), json.loads(interface.read_text()))  # absolute: the worker runs elsewhere
