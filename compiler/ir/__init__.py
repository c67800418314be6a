"""The IR: a QONNX model whose meaning is qonnx's execute_onnx; here its integer semantics,
loading and the canonical-form check."""
from .model import load_model
from .verify import Violation, verify

__all__ = ["load_model", "verify", "Violation"]
