"""l1forge's public Python API: what models, notebooks and scripts use (README: Python API).

    from l1forge.compiler.api import compile_model, CompileOptions, load_model, canonicalize, emulate
    report = compile_model("runs/ds8/model.onnx", "build/ds8", CompileOptions(backend="rtl"))
"""
from __future__ import annotations

from l1forge.hw.report import summary_lines  # a compile report as a few terminal lines
from l1forge.hw.report.compare import compare_builds, pareto_front  # builds side by side, Pareto fronts

from .backends.base import CompileOptions
from .errors import L1ForgeError
from .frontends.brevitas import export_brevitas
from .ir import load_model, verify
from .ir.emulator import emulate, emulate_stream
from .ir.noise import NoiseStream, attach_noise_source, split_noise_source
from .passes.canonicalize import canonicalize
from .pipeline import compile_model


__all__ = ["CompileOptions", "L1ForgeError", "NoiseStream", "attach_noise_source", "canonicalize", "compare_builds",
           "compile_model", "emulate", "emulate_stream", "export_brevitas", "load_model", "pareto_front",
           "split_noise_source", "summary_lines", "verify"]
