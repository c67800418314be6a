"""A checkpoint that needs pickle to load (here, one that would run a shell command) is refused
by every loader of l1forge's own run folders: torch.load(weights_only=True), never executed."""
import json
import pickle

import pytest
import torch

from l1forge.models.generators import GeneratorSettings
from l1forge.models.generators.caloclouds import load_quantized_student


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # would create the marker file when unpickled


def test_quantized_student_checkpoint_with_code_is_refused(tmp_path):
    marker = tmp_path / "executed"
    (tmp_path / "metrics.json").write_text(json.dumps({"hidden": [8], "settings": GeneratorSettings().__dict__}))
    torch.save({"weight": _Payload(marker)}, tmp_path / "quantized_student.pt")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_quantized_student(tmp_path)
    assert not marker.exists()
