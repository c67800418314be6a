"""Shower generation throughput: showers per second per core for each geometry at its public
settings, bytes per 10,000 showers, the physics table of each file, and the all-cores wall time of
a 100,000-shower ds2 file (the issue's "minutes, not hours").

Per-core figures run one chunk plan on one process; all-cores figures use every core.
Usage: .venv/bin/python benchmarks/shower_generation.py [--showers 5000] [--big 100000] [--out FILE]
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

from l1forge.models.data.showers import GEOMETRIES, generate_showers, shower_settings
from l1forge.models.data.showers.summary import physics_table, observables


def _row_summary(table: dict) -> dict:
    keep = ("e_low_gev", "e_high_gev", "showers", "linearity", "resolution", "t_max_x0", "r90_mm", "r90_moliere",
            "hits", "points")
    return {"rows": [{k: r[k] for k in keep} for r in table["rows"]], "resolution_fit": table["resolution_fit"],
            "t_max_fit": table["t_max_fit"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--showers", type=int, default=5000, help="showers per geometry for the per-core figure")
    ap.add_argument("--big", type=int, default=100_000, help="ds2 showers for the all-cores run (0: skip)")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "shower_generation.json")
    args = ap.parse_args()
    results = {"machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "processor": platform.processor() or platform.machine()},
               "showers": args.showers, "per_geometry": {}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["L1FORGE_CACHE"] = tmp
        for name in GEOMETRIES:
            settings = shower_settings(name)
            out = Path(tmp) / f"{name}.h5"
            start = time.perf_counter()
            stats = generate_showers(args.showers, args.seed, out, settings, workers=1, progress=False)
            wall = time.perf_counter() - start
            size = out.stat().st_size
            table = physics_table(observables(out))
            results["per_geometry"][name] = {
                "settings": settings.to_dict(), "showers_per_second_per_core": round(args.showers / wall, 1),
                "generation_core_seconds": round(stats["core_seconds"], 2), "wall_seconds_one_core": round(wall, 2),
                "bytes_per_10k_showers": round(size * 10_000 / args.showers), "physics": _row_summary(table)}
            print(f"{name}: {args.showers / wall:7.1f} showers/s/core, {size * 10_000 / args.showers / 1e6:.1f} MB "
                  f"per 10k, a = {table['resolution_fit']['stochastic']:.3f}", flush=True)
            out.unlink()
        if args.big:
            out = Path(tmp) / "ds2_big.h5"
            start = time.perf_counter()
            generate_showers(args.big, args.seed, out, shower_settings("ds2"), progress=False)
            wall = time.perf_counter() - start
            results["ds2_all_cores"] = {"showers": args.big, "wall_seconds": round(wall, 1),
                                        "bytes": out.stat().st_size, "cores": os.cpu_count()}
            print(f"ds2 {args.big} showers on {os.cpu_count()} cores: {wall:.0f} s, {out.stat().st_size / 1e9:.2f} GB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":  # the generator's worker processes re-import this module
    main()
