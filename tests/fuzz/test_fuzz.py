"""The fuzzer in CI: seeded random architectures end compiled bit-exact or refused with one line,
never a defect (240 seeds to the emulator and da4ml trace, 24 through the C simulation); every
shrunk case the fuzzer saved (regressions/) now ends as its file expects."""
import json
from pathlib import Path

import pytest

from tests.fuzz.grammar import Case, draw
from tests.fuzz.runner import DEFECTS, run_case

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.json"))


def _no_defect(seeds, depth: int, n_inputs: int) -> dict:
    outcomes = {seed: run_case(draw(seed), depth=depth, n_inputs=n_inputs) for seed in seeds}
    defects = {seed: o.to_dict() for seed, o in outcomes.items() if o.kind in DEFECTS}
    assert not defects
    return outcomes


@pytest.mark.parametrize("block", [0] + [pytest.param(b, marks=pytest.mark.slow) for b in range(1, 8)])
def test_seeded_cases_have_no_defect(block):
    """240 seeds through the frontend, the passes, emulator = QONNX = Brevitas and da4ml's trace."""
    outcomes = _no_defect(range(block * 30, block * 30 + 30), depth=1, n_inputs=300)
    assert sum(o.kind == "bit-exact" for o in outcomes.values()) >= 8  # the grammar mostly makes compilable models


@pytest.mark.tools
@pytest.mark.parametrize("block", range(4))
def test_seeded_cases_through_the_c_simulation(block):
    """24 more seeds also through the hls4ml C simulation, 4 of them through Verilator as well."""
    seeds = range(1000 + block * 6, 1006 + block * 6)
    outcomes = _no_defect(seeds[:5], depth=2, n_inputs=300)
    outcomes.update(_no_defect(seeds[5:], depth=3, n_inputs=300))
    assert any(o.kind == "bit-exact" for o in outcomes.values())


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_saved_regressions_end_as_expected(path):
    """Each saved case (its "expect": "bit-exact", or "refused: <rule>" where no exact form exists)."""
    saved = json.loads(path.read_text())
    outcome = run_case(Case.from_json(json.dumps(saved["case"])), depth=saved["depth"], n_inputs=500)
    got = outcome.kind if outcome.kind != "refused" else f"refused: {outcome.rule}"
    assert got == saved["expect"], outcome.to_dict()
