"""Jet generation throughput: matched jets per second per core for each class, and file size.

Each class runs in one process (one core) so the figure is per core; the file-size figure is the
bytes per 10,000 jets of a file written by `l1forge data jets`.
Usage: .venv/bin/python benchmarks/jet_generation.py [--jets-per-class 1000] [--out FILE]
"""
from __future__ import annotations

import os

# Per-core figures: one BLAS thread, as in the generator's worker processes.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from l1forge.models.data.jets import CLASSES, generate_chunk, generate_jets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets-per-class", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "jet_generation.json")
    args = ap.parse_args()
    results = {"machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "processor": platform.processor() or platform.machine()},
               "jets_per_class": args.jets_per_class, "per_class": {}}
    for cls in CLASSES:
        start = time.perf_counter()
        chunk = generate_chunk(cls, args.seed, args.jets_per_class)
        wall = time.perf_counter() - start
        results["per_class"][cls] = {"jets_per_second_per_core": round(args.jets_per_class / wall, 1),
                                     "events_per_jet": round(chunk.events / args.jets_per_class, 3),
                                     "wall_seconds": round(wall, 2)}
        print(f"{cls:6s} {args.jets_per_class / wall:7.1f} jets/s/core  ({wall:.1f} s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["L1FORGE_CACHE"] = tmp
        n = 400
        start = time.perf_counter()
        generate_jets(n, args.seed, Path(tmp) / "jets.h5", progress=False)
        wall = time.perf_counter() - start
        size = (Path(tmp) / "jets.h5").stat().st_size
    results["file"] = {"jets": 5 * n, "bytes": size, "bytes_per_10k_jets": round(size * 10_000 / (5 * n)),
                       "all_cores_wall_seconds": round(wall, 2),
                       "all_cores_jets_per_second": round(5 * n / wall, 1)}
    print(f"file: {size * 10_000 / (5 * n) / 1e6:.1f} MB per 10k jets; all cores {5 * n / wall:.0f} jets/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":  # the generator's worker processes re-import this module
    main()
