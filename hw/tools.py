"""External tools (yosys, Verilator) run within limits: a time limit per run (the whole process
group is killed when it passes, with a one-line error naming the tool and the option), a run
killed by the system (out of memory) named as such, and yosys' memory need estimated from the
design size before it runs (plan_synthesis), so a design too large for the machine is synthesized
stage by stage or refused with the figure instead of meeting the OOM killer."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass

from l1forge.compiler.errors import L1ForgeError

DEFAULT_TIME_LIMIT_S = 4 * 3600.0  # the N=32 deep set's yosys by stage took 2,266 s on 2 cores


def run_tool(cmd: list[str], what: str, time_limit_s: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    """cmd run to completion with text output captured; L1ForgeError when it passes the time
    limit (default DEFAULT_TIME_LIMIT_S) or is killed by a signal. The tool runs in its own
    process group, so a limit or an interrupt also ends the processes it started (yosys-abc,
    make, g++)."""
    limit = DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          **kwargs) as process:
        try:
            out, err = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise L1ForgeError(f"{what} ran past its time limit of {limit:g} s (--tool-time-limit); "
                               "allow more time or make the design smaller") from None
        except BaseException:  # an interrupt of l1forge ends the tool too
            _kill_group(process)
            raise
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        hint = " (the machine ran out of memory?)" if process.returncode == -signal.SIGKILL else ""
        raise L1ForgeError(f"{what} was killed by {name}{hint}")
    return subprocess.CompletedProcess(cmd, process.returncode, out, err)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def available_memory() -> float:
    """Bytes of memory available to new processes (MemAvailable of /proc/meminfo)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


# Named estimate of a flat yosys synth_xilinx run's peak memory: 1.2 GB + 20 kB per LUT of da4ml's
# own estimate, a line through two runs on the 2-core / 24 GB machine (61k LUT: 2.4 GB; the
# interaction network N=8, da4ml estimate 391k LUT: about 9 GB). It says 20 GB for the N=32 deep
# set (952k), whose flat run did not fit in 24 GB: plans keep HEADROOM over it. A pipeline stage
# run (which reads the whole design) counts as STAGE_IMBALANCE times the mean stage: 4 puts the
# N=32 deep set's stages at 6.6 GB, where about 7 GB was seen.
YOSYS_BASE_BYTES = 1.2e9
YOSYS_BYTES_PER_LUT = 20e3
STAGE_IMBALANCE = 4.0
HEADROOM = 1.25


def yosys_memory(luts: float) -> float:
    return YOSYS_BASE_BYTES + YOSYS_BYTES_PER_LUT * luts


@dataclass(frozen=True)
class SynthesisPlan:
    by_stage: bool
    jobs: int  # parallel yosys runs
    need_bytes: float  # the estimate for the plan (all parallel runs together)
    note: str  # for the log and the report; empty when the request stands as asked


def plan_synthesis(luts: float, stages: int, by_stage: bool, memory_bytes: float, jobs: int = 2) -> SynthesisPlan:
    """How yosys runs within memory_bytes: flat as asked if it fits (with HEADROOM over the
    estimate), else stage by stage (`jobs` runs at once, or fewer), else L1ForgeError with the
    figures."""
    flat = yosys_memory(luts)
    stage = yosys_memory(STAGE_IMBALANCE * luts / max(stages, 1))
    gb = 1e9
    if not by_stage and HEADROOM * flat <= memory_bytes:
        return SynthesisPlan(False, 1, flat, "")
    for n in range(max(1, min(jobs, stages)), 0, -1):
        if HEADROOM * n * stage <= memory_bytes:
            note = "" if by_stage else (f"yosys flat would need about {flat / gb:.1f} GB (named estimate from "
                                        f"{luts:,.0f} estimated LUT), {memory_bytes / gb:.1f} GB available: "
                                        f"synthesized stage by stage")
            return SynthesisPlan(True, n, n * stage, note)
    raise L1ForgeError(f"yosys would need about {stage / gb:.1f} GB even for one pipeline stage of this design "
                       f"({luts:,.0f} estimated LUT in {stages} stages; flat {flat / gb:.1f} GB), "
                       f"{memory_bytes / gb:.1f} GB available; use --skip-synth for the estimator's figures, "
                       "or a machine with more memory")
