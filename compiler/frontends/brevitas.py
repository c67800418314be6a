"""Brevitas frontend: a quantization-aware PyTorch module -> QONNX (the shared IR)."""
from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from ..errors import L1ForgeError


def export_brevitas(module, example_input, path: str | Path | None = None, dynamo: bool = True) -> ModelWrapper:
    """Export with brevitas' QONNX manager through torch's dynamo exporter (default) or the
    TorchScript one; the exporters' chatter is silenced. Saved to `path` when given."""
    import warnings

    warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
    from brevitas.export import export_qonnx

    module.eval()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(path) if path is not None else Path(tmp) / "model.onnx"
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                export_qonnx(module, example_input, str(target), dynamo=dynamo)
        except Exception as exc:
            raise L1ForgeError(f"Brevitas export of {type(module).__name__} failed: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        return ModelWrapper(str(target))
