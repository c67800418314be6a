"""l1forge: quantized physics networks -> bit-exact FPGA firmware with O(100) ns latency.

The public Python API, imported on first use (`import l1forge` itself loads no ML framework):

    import l1forge
    data = l1forge.load_jets("jets.h5", n_constituents=8)                  # data
    summary = l1forge.train_and_export(l1forge.TaggerConfig(), data,       # train
                                       l1forge.TrainSettings(epochs=5), "runs/ds8")
    report = l1forge.compile_model("runs/ds8/model.onnx", "build/ds8",     # compile + cosim
                                   backend="rtl", data=data.test.x, labels=data.test.y)
    print("\\n".join(l1forge.summary_lines(report)))                        # report

The packages: l1forge.compiler (IR, passes, frontends, backends, the pipeline and CLI),
l1forge.hw (simulation, synthesis, estimation, reports), l1forge.models (taggers, training, data)
and l1forge.reference (full-precision baselines of the papers).
"""
from importlib import import_module

# public name -> the module that defines it
_API = {
    # compile and verify
    "compile_model": "l1forge.compiler.api", "CompileOptions": "l1forge.compiler.api",
    "load_model": "l1forge.compiler.api", "canonicalize": "l1forge.compiler.api", "verify": "l1forge.compiler.api",
    "emulate": "l1forge.compiler.api", "export_brevitas": "l1forge.compiler.api",
    "L1ForgeError": "l1forge.compiler.api",
    # co-simulation of a compiled build (compile_model runs it; these drive it by hand)
    "get_backend": "l1forge.compiler.pipeline", "cosimulate": "l1forge.hw.sim.cosim",
    "qonnx_execute": "l1forge.hw.sim.cosim",
    # reports
    "summary_lines": "l1forge.hw.report", "load_report": "l1forge.hw.report.compare",
    "compare_builds": "l1forge.hw.report.compare",
    # training
    "TaggerConfig": "l1forge.models.taggers", "build_tagger": "l1forge.models.taggers",
    "TrainSettings": "l1forge.models.train", "train_and_export": "l1forge.models.train",
    # data
    "generate_jets": "l1forge.models.data.jets", "load_jets": "l1forge.models.data.loader",
    "summarize_jets": "l1forge.models.data.summary",
    "generate_showers": "l1forge.models.data.showers.generate", "shower_settings": "l1forge.models.data.showers.generate",
    "read_voxel_showers": "l1forge.models.data.showers.formats",
    "read_point_clouds": "l1forge.models.data.showers.formats",
    "summarize_showers": "l1forge.models.data.showers.summary",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'l1forge' has no attribute {name!r}")
    value = getattr(import_module(_API[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
