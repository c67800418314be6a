"""`l1forge sweep` on the paper's deep set: N in {8, 16, 32} x uniform bits in {4, 6, 8} on one
jet file, each point trained, compiled with the RTL backend (proven bit-exact in Verilator on the
test jets it verifies) and measured; on a local Ray with one point per core.

Writes benchmarks/results/sweep.json: the overhead ratio (the sweep's wall time against the sum of
its points' own times divided by the workers: 1.0 would be perfect packing with no engine cost),
the engine's own overhead (wall time against the in-order list schedule of the points' times,
which removes the packing loss of uneven points), every point and
the front of accuracy (max) against LUT (min); beside it sweep.md (the sweep's table) and
sweep_pareto.png (the comparison's fronts). The sweep folder itself (store, points, sweep.html)
goes to bench_runs/sweep_paper (not committed). A rerun resumes (finished points are kept in the
sweep's store); --fresh starts over.

Usage: .venv/bin/python benchmarks/sweep.py --data JETS.h5 [--n 8 16 32] [--bits 4 6 8]
       [--epochs 20] [--synth] [--workers 2] [--fresh]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent


def list_schedule(seconds: list[float], workers: int) -> float:
    """The makespan of the points' own times handed out in order to the first free worker: the
    wall time a zero-overhead engine would need for this order (the rest of the wall time is Ray
    starting, moving data and archives, and the driver's bookkeeping)."""
    free = [0.0] * workers
    for s in seconds:
        free[free.index(min(free))] += s
    return max(free, default=0.0)


def main() -> None:
    from rich.console import Console

    from l1forge.models.sweep import load_spec, run_sweep, write_outputs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--n", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 6, 8])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--verify-samples", type=int, default=20000)
    ap.add_argument("--synth", action="store_true", help="yosys for the LUT/FF (else da4ml's calibrated estimate)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench_runs" / "sweep_paper")
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args()

    if args.fresh:
        shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    spec_path = args.out / "spec.yaml"
    spec_path.write_text(
        f"data: {args.data.resolve()}\n"
        f"fixed: {{model: deepsets, epochs: {args.epochs}, backend: rtl, synth: {str(args.synth).lower()}, "
        f"verify_samples: {args.verify_samples}}}\n"
        f"axes: {{n_constituents: {args.n}, bits: {args.bits}}}\n"
        "objectives: {accuracy: max, LUT: min}\n"
        "resources: {cpus: 1, memory_gb: 6}\n")
    spec = load_spec(spec_path)
    console = Console()
    t0 = time.perf_counter()
    result = run_sweep(spec, args.out, workers=args.workers or None, console=console)
    wall = time.perf_counter() - t0
    summary = write_outputs(spec, result["rows"], args.out)
    ran = [r for r in result["rows"] if r["status"] == "done"]
    workers = args.workers or os.cpu_count()
    seconds = [r["seconds"] for r in ran]  # in the spec's order, the order Ray was given the points
    point_s = sum(seconds)
    record = {
        "command": "benchmarks/sweep.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if k not in ("out", "fresh", "synth")) + (" --synth" if args.synth else ""),
        "data": str(args.data), "workers": workers, "points": len(result["rows"]), "done": result["done"],
        "failed": result["failed"], "ran_now": result["ran"], "wall_s": round(wall, 1),
        "sum_point_s": round(point_s, 1),
        "overhead_ratio": (round(wall / (point_s / workers), 3)
                           if result["ran"] == len(result["rows"]) and point_s else None),
        "list_schedule_s": round(list_schedule(seconds, workers), 1),
        "engine_overhead_ratio": (round(wall / list_schedule(seconds, workers), 3)
                                  if result["ran"] == len(result["rows"]) and point_s else None),
        "front_accuracy_vs_LUT": summary["front"],
        "rows": [{"label": p["label"], "status": p["status"], "seconds": p["seconds"], "error": p["error"],
                  **{k: (p["metrics"] or {}).get(k) for k in ("accuracy", "quantized_accuracy", "float_accuracy",
                                                              "cycles", "latency_ns", "LUT", "FF", "verification",
                                                              "verified_samples", "resources_source", "train_s",
                                                              "compile_s")}} for p in summary["points"]],
        "sweep_folder": str(args.out.relative_to(ROOT)) if args.out.is_relative_to(ROOT) else str(args.out)}
    (RESULTS / "sweep.json").write_text(json.dumps(record, indent=2) + "\n")
    shutil.copyfile(args.out / "sweep.md", RESULTS / "sweep.md")
    if (args.out / "comparison" / "pareto.png").is_file():
        shutil.copyfile(args.out / "comparison" / "pareto.png", RESULTS / "sweep_pareto.png")
    console.print(f"wall {wall:.0f} s, points {point_s:.0f} s on {workers} workers: overhead ratio "
                  f"{record['overhead_ratio']}, against the in-order schedule {record['engine_overhead_ratio']}; "
                  f"front {', '.join(summary['front'])}", soft_wrap=True)


if __name__ == "__main__":
    main()
