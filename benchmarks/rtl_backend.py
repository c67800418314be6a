"""RTL backend wall times and figures: trace + Verilog (da4ml), Verilator build and co-simulation
of the test inputs fed one per clock, yosys synth_xilinx; cycles, ns, II, LUT, FF, DSP.
Usage: .venv/bin/python benchmarks/rtl_backend.py RUN_DIR [RUN_DIR ...] [--clock-ns 5] [--skip-synth | --synth-by-stage]
       [--key-suffix S] [--out FILE]
A RUN_DIR is an `l1forge train` output (model.onnx, test_inputs.npz), e.g. from
benchmarks/tagger_accuracy.py. Figures from earlier runs in --out are kept.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from l1forge.compiler.pipeline import compile_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--clock-ns", type=float, default=5.0)
    ap.add_argument("--n-data", type=int, default=10_000)
    ap.add_argument("--skip-synth", action="store_true", help="No yosys (da4ml's LUT estimate only).")
    ap.add_argument("--synth-by-stage", action="store_true", help="yosys per pipeline stage (for designs too big for "
                                                                  "one flat run)")
    ap.add_argument("--key-suffix", default="", help="Appended to the run's key in --out (e.g. _by_stage)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rtl_backend.json")
    args = ap.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {"runs": {}}
    for run in args.runs:
        with np.load(run / "test_inputs.npz") as f:
            x, y = f["x"][:args.n_data], f["y"][:args.n_data]
        t = time.perf_counter()
        report = compile_model(run / "model.onnx", run / "rtl", backend="rtl", clock_ns=args.clock_ns, data=x,
                               labels=y, n_random=2000, synth=not args.skip_synth,
                               synth_by_stage=args.synth_by_stage, log=lambda m: print(f"  {run.name}: {m}", flush=True))
        res, lat = report["resources"], report["latency"]
        row = {"clock_ns": args.clock_ns, "wall_s": round(time.perf_counter() - t, 1), "timings": report["timings"],
               "verification": {k: report["verification"][k] for k in ("status", "samples", "mismatches")},
               "latency": lat, "pipeline": report["pipeline"],
               "resources": {k: res[k] for k in ("LUT", "FF", "DSP", "CARRY", "MUXF", "SRL", "BRAM", "estimated_LUT",
                                                 "source") if k in res},
               "accuracy": report.get("accuracy", {}).get("accuracy")}
        results["runs"][run.name + args.key_suffix] = row
        print(f"{run.name}: {lat['cycles']} cycles = {lat['ns']} ns, II {lat['ii']}; {row['resources']}; "
              f"{report['verification']['status']} on {report['verification']['samples']}; "
              f"timings {report['timings']}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
