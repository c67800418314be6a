"""The fuzzer in CI: seeded random architectures end compiled bit-exact or refused with one line,
never a defect; every shrunk case the fuzzer saved (regressions/) now ends as its file expects."""
import json
from pathlib import Path

import pytest

from tests.fuzz.grammar import Case, draw
from tests.fuzz.runner import DEFECTS, run_case

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.json"))


@pytest.mark.parametrize("block", range(4))
def test_seeded_cases_have_no_defect(block):
    outcomes = {seed: run_case(draw(seed), depth=1, n_inputs=300) for seed in range(block * 15, block * 15 + 15)}
    defects = {seed: o.to_dict() for seed, o in outcomes.items() if o.kind in DEFECTS}
    assert not defects
    assert sum(o.kind == "bit-exact" for o in outcomes.values()) >= 4  # the grammar mostly makes compilable models


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_saved_regressions_end_as_expected(path):
    """Each saved case (its "expect": "bit-exact", or "refused: <rule>" where no exact form exists)."""
    saved = json.loads(path.read_text())
    outcome = run_case(Case.from_json(json.dumps(saved["case"])), depth=saved["depth"], n_inputs=500)
    got = outcome.kind if outcome.kind != "refused" else f"refused: {outcome.rule}"
    assert got == saved["expect"], outcome.to_dict()
