"""The hls4ml project of a canonical model: the lowered layers (lowering.py) as an hls4ml
ModelGraph with every precision explicit, its configuration and its writing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from ...errors import L1ForgeError
from ...quiet import silenced_stderr
from .lowering import HlsLayer, hls_layer_list
from .division import DIVIDE
from .extension import register
from .noise import NOISE
from .routing import ROUTE
from .tables import TABLE

# A default the layer list never relies on: check_types fails if any layer ends up with it.
SENTINEL_WIDTH, SENTINEL_INTEGER = 3, 2
SENTINEL_DEFAULT = f"ap_fixed<{SENTINEL_WIDTH},{SENTINEL_INTEGER}>"


@dataclass
class HlsProject:
    """An hls4ml model graph plus what l1forge set, for checks and reports."""
    hls_model: object
    layers: list[HlsLayer] | None  # None: a project reopened from its folder (no l1forge layer list)
    output_dir: Path

    def write(self) -> None:
        """Write the HLS project. hls4ml's writer imports Keras whenever it is installed (a YAML
        representer), which with the keras extra starts TensorFlow, whose C++ start-up logs go to
        stderr: kept off the terminal (errors still raise)."""
        with silenced_stderr():
            self.hls_model.write()

    def check_types(self) -> None:
        """Every type of every layer is one l1forge set: none is hls4ml's default (the sentinel)."""
        for layer in self.hls_model.get_layers():  # a ModelGraph, not a reopened project
            for var in list(layer.variables.values()) + list(layer.weights.values()):
                p = var.type.precision
                if (getattr(p, "width", None), getattr(p, "integer", None), getattr(p, "signed", None)) == \
                        (SENTINEL_WIDTH, SENTINEL_INTEGER, True):
                    raise L1ForgeError(f"hls4ml layer {layer.name}: {var.name} fell back to the default precision")


def hls_config(layers: list[HlsLayer], output_dir: Path, part: str, clock_ns: float, backend: str,
               reuse_factor: int) -> dict:
    """hls4ml's configuration: io_parallel, Latency, every layer's precision explicit."""
    return {
        "OutputDir": str(output_dir), "ProjectName": "l1forge_model", "Backend": backend, "Part": part,
        "ClockPeriod": clock_ns, "IOType": "io_parallel",
        "HLSConfig": {
            "Model": {"Precision": SENTINEL_DEFAULT, "ReuseFactor": reuse_factor, "Strategy": "Latency"},
            "LayerName": {l.spec["name"]: {"Precision": l.precision, "ReuseFactor": reuse_factor, "Trace": True}
                          for l in layers},
        },
    }


def build_hls_model(model: ModelWrapper, output_dir: Path, part: str = "xcvu13p-flga2577-2-e",
                    clock_ns: float = 5.0, backend: str = "Vitis", reuse_factor: int = 1, noise=None) -> HlsProject:
    """An hls4ml ModelGraph (io_parallel, Latency) for the canonical model, written to output_dir;
    with `noise` (a NoiseSpec) its noise columns are drawn on chip."""
    from hls4ml.model.graph import ModelGraph

    for kind in (ROUTE, TABLE, DIVIDE, NOISE):
        register(kind)
    layers = hls_layer_list(model, noise)
    config = hls_config(layers, output_dir, part, clock_ns, backend, reuse_factor)
    project = HlsProject(ModelGraph.from_layer_list(config, [l.spec for l in layers]), layers, Path(output_dir))
    project.check_types()
    return project
