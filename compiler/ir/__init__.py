"""The IR: a QONNX model whose meaning is qonnx's execute_onnx. Here: its loading and graph
helpers (model), fixed-point types and rounding (fixed), integer primitives (integer), the op
registry (ops), its interpreter (interpret), type inference (types), the emulator and verify."""
from .model import load_model
from .ops import OPS, SUPPORTED_OPS
from .verify import Violation, verify

__all__ = ["load_model", "verify", "Violation", "OPS", "SUPPORTED_OPS"]
