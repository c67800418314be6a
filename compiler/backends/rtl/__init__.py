"""RTL backend: the canonical IR traced into da4ml (constant-matrix products as multiplierless
adder graphs, wiring as wiring) and written as pipelined Verilog for a target clock."""
from .emit import RtlProject, build_rtl_project, pipeline_cutoff
from .trace import trace_model

__all__ = ["RtlProject", "build_rtl_project", "pipeline_cutoff", "trace_model"]
