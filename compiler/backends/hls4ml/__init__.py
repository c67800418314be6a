"""hls4ml backend: the canonical IR as an hls4ml HLS project (io_parallel, Latency strategy).

It drives hls4ml's layer-list API (ModelGraph.from_layer_list) instead of its ONNX frontend, so
the traps of that frontend (FACTS.md) never arise, and sets every type of every layer explicitly
from the exact fixed-point type inference; `check_types` then proves no layer fell back to a
default precision.
"""
from .emit import HlsProject, build_hls_model, hls_layer_list

__all__ = ["HlsProject", "build_hls_model", "hls_layer_list"]
