"""CaloClouds II reference (small config) on l1forge's ILD-like showers: teacher (Heun, 25
network evaluations) and consistency-distilled student (one evaluation) trained with two seeds,
W1 distances of the paper's observables to held-out simulator showers (bootstrap errors), the
simulator-vs-simulator floor, and showers/s of simulator, teacher and student measured in this run.

Usage: .venv/bin/python benchmarks/caloclouds2_reference.py [--train 2000] [--test 1000] [--seeds 0 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from l1forge.models.data.showers import generate_showers as simulate, shower_settings
from l1forge.reference.caloclouds2.data import read_showers
from l1forge.reference.caloclouds2.evaluate import compare, plot
from l1forge.reference.caloclouds2.generate import generate_showers
from l1forge.reference.caloclouds2.observables import observables
from l1forge.reference.caloclouds2.train import SMALL, load_run, train_run


def _simulated(n: int, seed: int, tmp: Path) -> tuple[Path, float]:
    path = tmp / f"ild-{n}-{seed}.h5"
    start = time.perf_counter()
    simulate(n, seed, path, shower_settings("ild"), workers=1, progress=False)
    return path, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=2000, help="training showers")
    ap.add_argument("--test", type=int, default=1000, help="held-out showers (and generated per model)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "caloclouds2_reference.json")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    results = {"machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "torch_threads": torch.get_num_threads()},
               "config": SMALL.to_dict(), "train_showers": args.train, "test_showers": args.test, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["L1FORGE_CACHE"] = str(tmp / "cache")
        train_file, _ = _simulated(args.train, 0, tmp)
        test_file, sim_seconds = _simulated(args.test, 1, tmp)
        floor_file, _ = _simulated(args.test, 2, tmp)
        energy, test_showers = read_showers(test_file)
        ref = observables(test_showers)
        samples = {"simulator (another seed)": observables(read_showers(floor_file)[1])}
        speed = {"simulator, one core": args.test / sim_seconds}
        for seed in args.seeds:
            run = tmp / f"run{seed}"
            summary = train_run(train_file, run, SMALL, seed=seed)
            _, scaler, flow, teacher, student = load_run(run)
            for name, model, one_step in (("teacher", teacher, False), ("student", student, True)):
                start = time.perf_counter()
                made = generate_showers(flow, model, scaler, energy, one_step=one_step, n_steps=SMALL.sample_steps,
                                        seed=100 + seed)
                seconds = time.perf_counter() - start
                speed[f"{name} seed {seed}"] = len(made) / seconds
                samples[f"{name} seed {seed}"] = observables(made)
                print(f"seed {seed} {name}: {len(made) / seconds:.1f} showers/s", flush=True)
            results["runs"][seed] = {"seconds": summary["seconds"],
                                     "final_losses": {k: v[-1] for k, v in summary["curves"].items()}}
        table = compare(ref, samples, n_boot=20)
        plot(ref, {k: v for k, v in samples.items() if "seed 0" in k or "simulator" in k},
             args.out.with_suffix(".png"))
    results["w1"] = table
    results["showers_per_second"] = {k: round(v, 1) for k, v in speed.items()}
    teacher_speed = np.mean([v for k, v in speed.items() if k.startswith("teacher")])
    student_speed = np.mean([v for k, v in speed.items() if k.startswith("student")])
    results["student_over_teacher_speed"] = round(float(student_speed / teacher_speed), 1)
    args.out.write_text(json.dumps(results, indent=1))
    keys = list(next(iter(table.values())))
    print("W1 to held-out simulator".ljust(26) + "".join(k.rjust(13) for k in keys))
    for name, row in table.items():
        print(name.ljust(26) + "".join(f"{row[k]['w1']:8.3g}±{row[k]['error']:<4.1g}" for k in keys))
    print(f"student / teacher speed: {results['student_over_teacher_speed']}x; wrote {args.out}")


if __name__ == "__main__":
    main()
