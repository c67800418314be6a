"""infer_fixed_point_types: the exact fixed-point type of every tensor of a canonical model.

Bounds are propagated element by element through the op registry's rules (interval arithmetic
with the actual weights), starting from the full range of the input quantizer, so every
accumulator, pooling sum, bias and requantized activation gets the narrowest type that can never
overflow. Nothing falls back to a default precision.
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper

from .fixed import FixedType
from .interpret import walk


def infer_fixed_point_types(model: ModelWrapper) -> dict[str, FixedType]:
    """Map every computed tensor name to its exact FixedType (raises NotExact naming the node)."""
    env = walk(model, {inp.name: None for inp in model.graph.input})
    return {name: FixedType.covering(int(fx.lo.min()), int(fx.hi.max()), fx.frac) for name, fx in env.items()}
