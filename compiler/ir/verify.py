"""verify: is a model in the canonical form that every backend computes exactly?"""
from __future__ import annotations

from dataclasses import dataclass

from qonnx.core.modelwrapper import ModelWrapper

from ..errors import L1ForgeError
from .integer import NotExact, node_label
from .interpret import walk
from .ops import OPS, unsupported


@dataclass(frozen=True)
class Violation:
    node: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"node {self.node}: {self.rule}: {self.detail}"


def verify(model: ModelWrapper, raise_on_error: bool = True) -> list[Violation]:
    """Every violation of the canonical form (the op registry's static checks, then one walk of
    its rules over the input range), each naming its node and rule: unsupported ops,
    non power-of-two scales (per tensor or per channel), float tensors in the datapath, unknown shapes,
    inexact means, accumulators beyond 62 bits. Raises L1ForgeError (first violation, with the
    count) unless raise_on_error is False."""
    found: list[Violation] = []
    for node in model.graph.node:
        definition = OPS.get(node.op_type)
        try:
            if definition is None:
                raise unsupported(node)
            if definition.check is not None:
                definition.check(model, node)
        except NotExact as exc:
            found.append(Violation(exc.node, exc.rule, exc.detail))
        for out in node.output:
            shape = model.get_tensor_shape(out)
            if shape is None or any((not isinstance(d, int)) or d <= 0 for d in shape):
                found.append(Violation(node_label(node), "unknown shape", f"output {out} has shape {shape}"))
    if not found:
        try:
            walk(model, {inp.name: None for inp in model.graph.input})
        except NotExact as exc:
            found.append(Violation(exc.node, exc.rule, exc.detail))
    if found and raise_on_error:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise L1ForgeError(f"{found[0]}{more}")
    return found
