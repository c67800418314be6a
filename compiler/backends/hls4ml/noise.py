"""An hls4ml layer for the NoiseSource op (compiler.ir.noise): the firmware's input (the condition
columns) in, the network's whole input row out, the noise columns drawn by LFSRs addressing the
Gaussian table. The table values and seeds are the IR's own."""
from __future__ import annotations

from pathlib import Path

from .extension import LayerKind

_CONFIG = """struct config{index} {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned lanes = {lanes};
    static const unsigned address_bits = {address_bits};
    static int source(int j) {{
        static const int sources[{n_out}] = {{{sources}}};
        return sources[j];
    }}
    static ap_uint<64> seed(int l) {{
        static const unsigned long long seeds[{lanes}] = {{{seeds}}};
        return ap_uint<64>(seeds[l]);
    }}
    static {result_t} entry(int a) {{
        static const {result_t} table[{size}] = {{{values}}};
        return table[a];
    }}
}};
"""


def _config(node) -> str:
    values = node.get_attr("values")
    return _CONFIG.format(index=node.index, n_in=node.get_attr("n_in"), n_out=node.get_attr("n_out"),
                          lanes=len(node.get_attr("seeds")), address_bits=node.get_attr("address_bits"),
                          sources=",".join(str(s) for s in node.get_attr("sources")),
                          seeds=",".join(f"0x{int(s):016x}ULL" for s in node.get_attr("seeds")),
                          result_t=node.get_output_variable().type.name, size=len(values),
                          values=",".join(repr(float(v)) for v in values))


NOISE = LayerKind("L1ForgeNoise", Path(__file__).with_name("l1forge_noise.h"), "l1forge_noise",
                  {"n_in": "int", "n_out": "int", "address_bits": "int", "sources": "value", "seeds": "value",
                   "values": "value"}, _config)


def noise_layer(spec, name: str, source: str, width: int) -> dict:
    """The layer dict of the noise source `spec` (a NoiseSpec) reading layer `source`, writing rows of
    `width` columns."""
    sources = [-(k + 1) if noise else k for noise, k in spec.column_sources(width)]
    return {"class_name": NOISE.class_name, "name": name, "inputs": [source], "n_in": width - spec.lanes,
            "n_out": width, "address_bits": spec.address_bits, "sources": sources,
            "seeds": [str(s) for s in spec.seeds],
            "values": [v * 2.0 ** -spec.frac for v in spec.values], "out_shape": [width]}
