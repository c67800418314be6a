"""The fuzzer's long run: seeded random quantized architectures (tests/fuzz/grammar.py), each
ending in exactly one outcome (tests/fuzz/runner.py), tabulated by kind, stage, rule and family.
Every case runs to depth 1 (frontend, passes, emulator = QONNX = Brevitas, da4ml's traced
program); every --csim-every-th case also through the hls4ml C simulation and every
--verilator-every-th also through Verilator. A defect is shrunk to a small case and saved in
tests/fuzz/regressions/ (then test_fuzz.py keeps it as a regression test).

Usage: .venv/bin/python benchmarks/fuzz.py [--cases 1000] [--start 0] [--csim-every 25]
       [--verilator-every 100] [--out benchmarks/results/fuzz.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzz.grammar import draw  # noqa: E402
from tests.fuzz.runner import DEFECTS, run_case, shrink  # noqa: E402

REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"


def depth_of(index: int, csim_every: int, verilator_every: int) -> int:
    if verilator_every and index % verilator_every == 0:
        return 3
    if csim_every and index % csim_every == 0:
        return 2
    return 1


def rule_class(rule: str) -> str:
    """A refusal's rule with its numbers and quoted names folded, so equal rules count together."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'...'", rule)).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--csim-every", type=int, default=25, help="every k-th case also runs the hls4ml C simulation")
    ap.add_argument("--verilator-every", type=int, default=100, help="every k-th case also runs Verilator")
    ap.add_argument("--inputs", type=int, default=500, help="inputs per case")
    ap.add_argument("--time-limit", type=int, default=300, help="seconds per case (more is a 'timeout' defect)")
    ap.add_argument("--no-shrink", action="store_true", help="record defects without shrinking them")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz.json")
    args = ap.parse_args()

    cases, started = [], time.perf_counter()
    for seed in tqdm(range(args.start, args.start + args.cases), desc="fuzz", unit="case"):
        case = draw(seed)
        depth = depth_of(seed, args.csim_every, args.verilator_every)
        t0 = time.perf_counter()
        outcome = run_case(case, depth=depth, n_inputs=args.inputs, time_limit=args.time_limit)
        entry = {"seed": seed, "family": case.family, "depth": depth, "seconds": round(time.perf_counter() - t0, 2),
                 **outcome.to_dict()}
        if outcome.is_defect:
            tqdm.write(f"seed {seed}: {outcome.kind} at {outcome.stage}: {outcome.detail[:160]}")
            if not args.no_shrink:
                small, found = shrink(case, outcome, depth, log=tqdm.write)
                path = REGRESSIONS / f"{outcome.kind}-seed{seed}.json"
                path.write_text(json.dumps({"found": f"{outcome.kind} at {outcome.stage} (seed {seed}): {found.detail}",
                                            "depth": depth, "expect": "bit-exact", "case": json.loads(small.to_json())},
                                           indent=1, sort_keys=True) + "\n")
                entry["shrunk"] = {"case": json.loads(small.to_json()), "detail": found.detail, "saved": str(path.relative_to(ROOT))}
        cases.append(entry)

    kinds = Counter(c["kind"] for c in cases)
    by_depth = {d: dict(Counter(c["kind"] for c in cases if c["depth"] == d)) for d in (1, 2, 3)}
    result = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "command": "benchmarks/fuzz.py " + " ".join(sys.argv[1:]),
        "seeds": [args.start, args.start + args.cases - 1],
        "inputs_per_case": args.inputs,
        "seconds": round(time.perf_counter() - started, 1),
        "outcomes": dict(kinds),
        "outcomes_by_depth": {f"depth {d}": v for d, v in by_depth.items() if v},
        "outcomes_by_family": {f: dict(Counter(c["kind"] for c in cases if c["family"] == f))
                               for f in sorted({c["family"] for c in cases})},
        "refused_by_rule": dict(Counter(f'{c["stage"]}: {rule_class(c["rule"])}' for c in cases
                                        if c["kind"] == "refused").most_common()),
        "export_failures": dict(Counter(rule_class(c["detail"]) for c in cases if c["kind"] == "export").most_common()),
        "defects": [c for c in cases if c["kind"] in DEFECTS],
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.partial")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(args.out)
    print(json.dumps({k: result[k] for k in ("outcomes", "outcomes_by_depth", "refused_by_rule", "seconds")}, indent=1))
    print(f"{len(result['defects'])} defects; wrote {args.out}")


if __name__ == "__main__":
    main()
