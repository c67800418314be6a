"""One sweep point, wherever it runs: train the tagger, compile it (the compile proves the
firmware bit-exact against the model on the test jets, or fails), and measure.

Nothing here knows about Ray: the engine calls run_point in a worker, a test can call it directly.
"""
from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from .spec import tagger_config

# what a point keeps of its folder: everything but the simulators' build trees (object files and
# executables are rebuilt by `l1forge cosim` from the sources the build keeps)
SKIPPED_DIRS = {"obj_dir", "__pycache__", "verilator_build"}
SKIPPED_SUFFIXES = (".o", ".a", ".so", ".d")


def run_point(point: dict, data: list[Path], folder: Path) -> dict:
    """Train and compile `point` into `folder` (train/, build/); returns its metrics. A user
    error (L1ForgeError) or a verification failure propagates with its one-line message."""
    from l1forge.compiler.api import compile_model
    from l1forge.models.data.loader import load_jets
    from l1forge.models.taggers import TaggerConfig
    from l1forge.models.train import TrainSettings, train_and_export

    folder = Path(folder)
    t0 = time.perf_counter()
    jets = load_jets(data, n_constituents=point["n_constituents"], features=point["features"], seed=point["seed"])
    settings = TrainSettings(point["epochs"], point["batch_size"], point["lr"], point["seed"])
    trained = train_and_export(tagger_config(point, TaggerConfig), jets, settings, folder / "train", progress=False,
                               log=lambda message: None)
    t1 = time.perf_counter()
    n = min(point["verify_samples"], len(jets.test.y))
    report = compile_model(folder / "train" / "model.onnx", folder / "build", backend=point["backend"],
                           part=point["part"], clock_ns=point["clock_ns"], reuse_factor=point["reuse_factor"],
                           synth=point["synth"], data=jets.test.x[:n], labels=jets.test.y[:n],
                           log=lambda message: None)
    t2 = time.perf_counter()
    return metrics_of(trained, report, train_s=t1 - t0, compile_s=t2 - t1)


def metrics_of(trained: dict, report: dict, train_s: float, compile_s: float) -> dict:
    """The recorded metrics of a point: accuracies, latency and resources with their sources,
    the verification, times."""
    lat, res, v = report["latency"], report["resources"], report["verification"]
    return {"accuracy": report["accuracy"]["accuracy"], "accuracy_samples": report["accuracy"]["samples"],
            "quantized_accuracy": trained["quantized"]["accuracy"],
            "float_accuracy": trained["float"]["accuracy"],
            "cycles": lat.get("cycles"), "latency_ns": lat.get("ns"), "II": lat.get("ii"),
            "latency_source": lat.get("source"),
            **{k: res.get(k) for k in ("LUT", "FF", "DSP", "BRAM")}, "resources_source": res.get("source"),
            "verification": v["status"], "verified_samples": v.get("samples", 0),
            "brevitas_vs_qonnx_rows_differing": trained["brevitas_vs_qonnx"]["rows_differing"],
            "train_s": round(train_s, 1), "compile_s": round(compile_s, 1)}


def pack(folder: Path) -> bytes:
    """The point's folder as a gzipped tar (what travels back to the driver from any node)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(Path(folder).rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not path.is_symlink() and not (set(rel.parts) & SKIPPED_DIRS) \
                    and not path.name.endswith(SKIPPED_SUFFIXES):
                tar.add(path, arcname=str(rel), recursive=False)
    return buffer.getvalue()


def unpack(archive: bytes, folder: Path) -> None:
    """Extract a packed point into `folder` (replaced whole: staged beside it, then renamed)."""
    from l1forge.compiler.atomic import atomic_folder

    with atomic_folder(folder) as staging:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
