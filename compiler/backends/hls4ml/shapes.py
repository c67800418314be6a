"""The hls4ml project's layers as the estimator sees them (hw.estimate.LayerShape)."""
from __future__ import annotations

import numpy as np

from hw.estimate import LayerShape

from ...ir.fixed import FixedType
from .lowering import HlsLayer
from .routing import LAYER_CLASS as ROUTE


def layer_shapes(layers: list[HlsLayer], reuse_factor: int) -> list[LayerShape]:
    """One LayerShape per hls4ml layer: positions, sizes, widths, integer weight mantissas."""
    shapes: list[LayerShape] = []
    produced: dict[str, tuple[int, int]] = {}  # layer name -> (result width, number of elements)
    for layer in layers:
        spec, prec = layer.spec, layer.precision
        cls, name = spec["class_name"], spec["name"]
        out_bits = FixedType.parse(prec["result"]).width
        src = produced.get(spec["inputs"][0]) if spec.get("inputs") else None
        in_bits, in_elems = src if src else (0, 0)
        if cls == "InputLayer":
            n = int(np.prod(spec["input_shape"]))
            rows = int(np.prod(spec["input_shape"][:-1])) if len(spec["input_shape"]) > 1 else 1
            shapes.append(LayerShape(name, "input", rows=rows, n_out=n // rows, out_bits=out_bits))
            elems = n
        elif cls == "Dense":
            n_in, n_out = spec["n_in"], spec["n_out"]
            rows = max(1, in_elems // n_in)
            frac = FixedType.parse(prec["weight"]).frac
            w = np.round(np.asarray(spec["weight_data"]) * 2.0 ** frac).astype(np.int64)
            shapes.append(LayerShape(name, "dense", rows=rows, n_in=n_in, n_out=n_out, in_bits=in_bits,
                                     out_bits=out_bits, acc_bits=FixedType.parse(prec["accum"]).width, weights=w,
                                     reuse=reuse_factor))
            elems = rows * n_out
        elif cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            kind = "avg_pool" if cls == "GlobalAveragePooling1D" else "max_pool"
            shapes.append(LayerShape(name, kind, rows=spec["n_in"], n_in=spec["n_filt"], n_out=spec["n_filt"],
                                     in_bits=in_bits, out_bits=out_bits, acc_bits=FixedType.parse(prec["accum"]).width))
            elems = spec["n_filt"]
        elif cls == ROUTE:
            shapes.append(LayerShape(name, "route", n_in=spec["n_in"], n_out=spec["n_out"], in_bits=in_bits,
                                     out_bits=out_bits, acc_bits=FixedType.parse(prec["accum"]).width, n_sum=spec["n_sum"]))
            elems = spec["n_out"]
        elif cls == "Activation":
            kind = "relu" if spec["activation"] == "relu" else "quant"
            shapes.append(LayerShape(name, kind, n_in=in_elems, n_out=in_elems, in_bits=in_bits, out_bits=out_bits))
            elems = in_elems
        elif cls == "Concatenate":
            elems = sum(produced[i][1] for i in spec["inputs"])
            shapes.append(LayerShape(name, "concat", n_in=elems, n_out=elems, out_bits=out_bits))
        else:  # Reshape: wires
            shapes.append(LayerShape(name, "reshape", n_in=in_elems, n_out=in_elems, out_bits=out_bits))
            elems = in_elems
        produced[name] = (out_bits, elems)
    return shapes
