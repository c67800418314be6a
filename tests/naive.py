"""The conversion users do by hand today (FACTS.md): qonnx cleanup + channels-last + GemmToMatMul,
then hls4ml's own ONNX frontend with its default configuration."""
from __future__ import annotations

import numpy as np


def naive_hls4ml_predict(model, x: np.ndarray, out_dir) -> np.ndarray:
    import hls4ml
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    m = cleanup_model(model)
    m = cleanup_model(m.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
    cfg = hls4ml.utils.config_from_onnx_model(m, granularity="name", backend="Vitis")
    hls = hls4ml.converters.convert_from_onnx_model(m, output_dir=str(out_dir), backend="Vitis",
                                                   io_type="io_parallel", hls_config=cfg)
    hls.compile()
    return np.asarray(hls.predict(np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64))).reshape(len(x), -1)
