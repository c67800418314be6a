"""Integer emulator vs qonnx's execute_onnx on the paper's deep set (N=8 and N=32, 3 features,
8 bits, phi=[32,32,32], rho=[32]): wall time on the same 10,000 inputs, outputs compared.

Baselines, measured in the same run: qonnx node-by-node execution one input at a time (how
qonnx is driven for models whose batched execution fails, FACTS.md; timed once, it takes
minutes), and qonnx batched (one call per 4,096 inputs; works for these Dense-only graphs).
The emulator and the batched run report the best of three calls.
Usage: .venv/bin/python benchmarks/emulator.py [--n 10000] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def best_of(repeats: int, fn):
    """(result, fastest wall time of `repeats` calls): first calls pay for allocation and warm-up."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, min(times)


def main() -> None:
    from qonnx.core.onnx_exec import execute_onnx

    from l1forge.compiler.ir import load_model
    from l1forge.compiler.ir.emulator import emulate
    from l1forge.compiler.passes.canonicalize import canonicalize
    from l1forge.hw.sim.cosim import grid_inputs, qonnx_execute
    from l1forge.models.taggers import TaggerConfig, build_tagger
    from l1forge.models.train import export_qonnx_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "emulator.json")
    args = ap.parse_args()
    results = {"inputs": args.n, "models": {}}
    for n_const in (8, 32):
        cfg = TaggerConfig(model="deepsets", n_constituents=n_const, n_features=3)
        with tempfile.TemporaryDirectory() as tmp:
            model = canonicalize(load_model(export_qonnx_model(build_tagger(cfg), cfg, Path(tmp) / "m.onnx")))
        x = grid_inputs(model, args.n, seed=1)
        emu, t_emu = best_of(3, lambda: emulate(model, x).reshape(len(x), -1))
        batched, t_batched = best_of(3, lambda: qonnx_execute(model, x))
        name = model.graph.input[0].name
        t = time.perf_counter()
        single = np.concatenate([execute_onnx(model, {name: x[i:i + 1]})[model.graph.output[0].name]
                                 for i in range(len(x))]).reshape(len(x), -1)
        t_single = time.perf_counter() - t
        row = {"emulator_s": round(t_emu, 4), "qonnx_per_input_s": round(t_single, 2),
               "qonnx_batched_s": round(t_batched, 3),
               "speedup_vs_qonnx_per_input": round(t_single / t_emu, 1),
               "speedup_vs_qonnx_batched": round(t_batched / t_emu, 2),
               "bit_exact_vs_qonnx_per_input": bool(np.array_equal(emu, single.astype(np.float64))),
               "bit_exact_vs_qonnx_batched": bool(np.array_equal(emu, batched))}
        results["models"][f"deepset_N{n_const}_3f_8bit"] = row
        print(f"N={n_const}: emulator {t_emu:.3f} s, qonnx per input {t_single:.1f} s "
              f"({row['speedup_vs_qonnx_per_input']}x), qonnx batched {t_batched:.2f} s "
              f"({row['speedup_vs_qonnx_batched']}x); bit-exact {row['bit_exact_vs_qonnx_per_input']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
