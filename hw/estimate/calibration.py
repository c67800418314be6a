"""References the estimators are calibrated and checked against.

hls4ml estimator: the seed paper's deep sets (l1-jet-id, 4 and 6 bits, N = 8, hls4ml io_parallel on
xcvu13p at 5 ns) with their real Vivado 2020.1 post-synthesis utilization and Vivado HLS latency.
The layer shapes are read from the paper's own `keras_model.h5` weights (quantized as its QKeras
quantizers do: `quantized_bits(B, 0, alpha=1)`, i.e. B-1 fraction bits; the float output layer at
hls4ml's fixed<16,6>) and `hls4ml_config.yml` precisions.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from l1forge.compiler.ir.fixed import FixedType

from ..synth.vendor_reports import parse_csynth, parse_vivado_utilization
from .estimators import LayerShape, estimate_hls4ml

ANCHOR_MODELS = ("deepsets_4bit_8const_vu13p_5ns_hls2020.1", "deepsets_6bit_8const_vu13p_5ns_hls2020.1")


def paper_deepset_shapes(folder: Path) -> list[LayerShape]:
    """The estimator's view of a paper deep set (phi 3x32x32x32, mean, rho 32, dense 5, softmax)."""
    import h5py
    import yaml

    folder = Path(folder)
    cfg = yaml.load((folder / "hls4ml_config.yml").read_text(), Loader=yaml.BaseLoader)["HLSConfig"]["LayerName"]

    def prec(layer, key="result"):
        p = cfg[layer]["Precision"]
        t = FixedType.parse(p if isinstance(p, str) else p[key])
        return t.width, t.integer

    def mantissas(layer):
        width, integer = prec(layer, "weight")
        with h5py.File(folder / "keras_model.h5", "r") as f:
            w = np.asarray(f[f"model_weights/{layer}/{layer}/kernel:0"], dtype=np.float64)
        scale = 2.0 ** (width - integer)
        return np.clip(np.round(w * scale), -(2 ** (width - 1)), 2 ** (width - 1) - 1).astype(np.int64)

    n = int(json.loads((folder / "hyperparameters.json").read_text())["data_hyperparams"]["fpath"].split("jets_")[1].split("const")[0])
    in_bits = prec("input_layer")[0]
    shapes = [LayerShape("input_layer", "input", rows=n, n_out=3, out_bits=in_bits)]
    bits = in_bits
    for dense, act in (("phi1", "q_activation"), ("phi2", "q_activation_1"), ("phi3", "q_activation_2")):
        w = mantissas(dense)
        acc = prec(dense)[0]
        shapes.append(LayerShape(dense, "dense", rows=n, n_in=w.shape[0], n_out=w.shape[1], in_bits=bits,
                                 out_bits=acc, acc_bits=acc, weights=w, reuse=int(cfg[dense].get("ReuseFactor", 1))))
        bits = prec(act)[0]
        shapes.append(LayerShape(act, "relu", rows=n, n_in=w.shape[1], n_out=w.shape[1], out_bits=bits))
    shapes.append(LayerShape("q_activation_3", "quant", rows=n, n_in=32, n_out=32, out_bits=prec("q_activation_3")[0]))
    pool = prec("global_average_pooling1d")[0]
    shapes.append(LayerShape("global_average_pooling1d", "avg_pool", rows=n, n_in=32, n_out=32, out_bits=pool,
                             acc_bits=pool))
    bits = pool
    for dense, act in (("rho", "q_activation_4"), ("dense", None)):
        w = mantissas(dense)
        acc = prec(dense)[0]
        shapes.append(LayerShape(dense, "dense", n_in=w.shape[0], n_out=w.shape[1], in_bits=bits, out_bits=acc,
                                 acc_bits=acc, weights=w, reuse=int(cfg[dense].get("ReuseFactor", 1))))
        if act:
            bits = prec(act)[0]
            shapes.append(LayerShape(act, "relu", n_in=w.shape[1], n_out=w.shape[1], out_bits=bits))
    shapes.append(LayerShape("softmax", "softmax", n_in=5, n_out=5, out_bits=prec("softmax")[0]))
    return shapes


def hls4ml_references(anchors: Path) -> list[dict]:
    """For each paper model: the estimate and Vivado's figures, with relative errors."""
    rows = []
    for name in ANCHOR_MODELS:
        folder = Path(anchors) / name
        est = estimate_hls4ml(paper_deepset_shapes(folder), clock_ns=5.0)
        vivado = parse_vivado_utilization(folder / "vivado_synth.rpt")
        hls = parse_csynth(next(folder.rglob("myproject_csynth.xml")))
        measured = {"LUT": vivado["LUT"], "FF": vivado["FF"], "DSP": vivado["DSP"], "cycles": hls["latency"]["cycles"]}
        estimate = {**{k: est["resources"][k] for k in ("LUT", "FF", "DSP")}, "cycles": est["latency"]["cycles"]}
        rows.append({"reference": name, "measured": measured, "estimate": estimate,
                     "measured_source": "vivado 2020.1 post-synthesis (LUT, FF, DSP); vivado_hls 2020.1 (cycles)",
                     "relative_error": {k: round(estimate[k] / measured[k] - 1.0, 4) for k in measured}})
    return rows
