"""Limits of external tool runs: a time limit ends the tool's whole process group with one line;
yosys' memory need is estimated before it runs, so a design too large for the machine is
synthesized by stage or refused with the figure."""
import subprocess
import sys
import time

import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.hw.tools import plan_synthesis, run_tool, yosys_memory

GB = 1e9


def test_time_limit_kills_the_process_group(tmp_path):
    marker = tmp_path / "grandchild_finished"
    script = f"sleep 3; touch {marker}"  # a grandchild (sh -> sleep) that must die with the tool
    start = time.monotonic()
    with pytest.raises(L1ForgeError, match=r"^the test tool ran past its time limit of 0.5 s \(--tool-time-limit\)"):
        run_tool(["sh", "-c", script], "the test tool", 0.5)
    assert time.monotonic() - start < 2.5
    time.sleep(3)
    assert not marker.exists()


def test_a_tool_killed_by_a_signal_is_named():
    with pytest.raises(L1ForgeError, match=r"the test tool was killed by SIGKILL \(the machine ran out of memory\?\)"):
        run_tool([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], "the test tool")


def test_a_finished_tool_returns_its_output():
    res = run_tool([sys.executable, "-c", "print('hi')"], "python")
    assert res.returncode == 0 and res.stdout == "hi\n"
    assert isinstance(res, subprocess.CompletedProcess)


def test_memory_estimate_follows_its_two_measurements():
    assert yosys_memory(61_000) == pytest.approx(2.4 * GB, rel=0.05)  # the N=32 Pareto point, flat
    assert yosys_memory(391_201) == pytest.approx(9 * GB, rel=0.05)  # the interaction network N=8, flat


def test_synthesis_plan_on_a_24_gb_machine():
    # the N=32 deep set (da4ml estimate 952,262 LUT, 14 stages): flat does not fit, two stages at once do
    plan = plan_synthesis(952_262, 14, False, 22 * GB)
    assert plan.by_stage and plan.jobs == 2 and "synthesized stage by stage" in plan.note
    assert "about 20.2 GB" in plan.note
    # a 61k LUT design runs flat as asked; asked by stage, by stage without a note
    assert plan_synthesis(61_000, 6, False, 22 * GB) == plan_synthesis(61_000, 6, False, 22 * GB)
    assert not plan_synthesis(61_000, 6, False, 22 * GB).by_stage
    assert plan_synthesis(61_000, 6, True, 22 * GB).note == ""
    # little memory: one stage at a time
    assert plan_synthesis(952_262, 14, False, 12 * GB).jobs == 1


def test_too_large_even_by_stage_is_refused_with_the_figure():
    with pytest.raises(L1ForgeError, match=r"yosys would need about 5\.2 GB even for one pipeline stage .* "
                                           r"1\.0 GB available; use --skip-synth"):
        plan_synthesis(700_000, 14, False, 1 * GB)
