"""iCaloFlow on l1forge's dataset-2-like showers (small config): teacher MAFs (spline, sampled one
dimension at a time), distilled IAF students (one pass per block) and the quantized students of
Flow-1 and Flow-3 as firmware (their QONNX graphs run by the compiler's emulator, the firmware's
exact meaning; Flow-2 stays the float student). W1 distances of the paper's observables to
held-out simulator showers beside the simulator-vs-simulator floor, the classifier two-sample AUC
on high-level features, ms per shower of teacher, student and emulated firmware measured in this
run, and the quantized students compiled with both backends (bit-exact on the benchmark's rows,
latency, II, resources, rows and showers per second at the clock).

Usage: .venv/bin/python benchmarks/icaloflow_reference.py [--train 8000] [--test 1000] [--generated 400]
       [--steps 1500] [--run DIR]
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

from l1forge.compiler.api import canonicalize, compile_model, emulate, load_model
from l1forge.compiler.errors import L1ForgeError
from l1forge.models.data.showers import generate_showers as simulate, shower_settings
from l1forge.models.generators import GeneratorSettings, train_icaloflow_student
from l1forge.models.generators.icaloflow import INPUT_BITS, firmware_sampler
from l1forge.reference.icaloflow.data import N_LAYERS, read_showers
from l1forge.reference.icaloflow.evaluate import compare, observables, plot
from l1forge.reference.icaloflow.generate import generate_showers, student_sampler, teacher_sampler
from l1forge.reference.icaloflow.train import SMALL, Run, train_run

ROWS_PER_SHOWER = {1: 1, 3: N_LAYERS - 1}


def _simulated(n: int, seed: int, tmp: Path) -> tuple[Path, float]:
    path = tmp / f"ds2-{n}-{seed}.h5"
    start = time.perf_counter()
    simulate(n, seed, path, shower_settings("ds2"), workers=1, progress=False)
    return path, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=8000, help="training showers")
    ap.add_argument("--test", type=int, default=1000, help="held-out simulator showers (the reference)")
    ap.add_argument("--generated", type=int, default=400, help="showers generated per model")
    ap.add_argument("--steps", type=int, default=1500, help="quantization-aware fine-tuning steps")
    ap.add_argument("--run", type=Path, default=None, help="a trained run on --data (default: train SMALL here)")
    ap.add_argument("--data", type=Path, default=None, help="its training file (default: simulate --train showers)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the quantized students and builds in this folder")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "icaloflow_reference.json")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    results = {"machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "torch_threads": torch.get_num_threads()}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep or tmp
        train_file = args.data or _simulated(args.train, 0, tmp)[0]
        test_file, sim_seconds = _simulated(args.test, 1, tmp)
        floor_file, _ = _simulated(args.generated, 2, tmp)
        if args.run is None:
            args.run = tmp / "run"
            train_run(train_file, args.run, SMALL, seed=0)
        run = Run(args.run)
        run.require()
        results["run"] = {k: v for k, v in run.summary.items() if k != "flows"}
        results["run"]["flows"] = {k: {kk: vv for kk, vv in v.items() if "curve" not in kk}
                                   for k, v in run.summary["flows"].items()}
        ref_energy, ref_showers = read_showers(test_file)
        ref = observables(ref_energy, ref_showers)
        energy = ref_energy[:args.generated]  # the generators get the reference's incident energies
        samples = {"simulator (another seed)": observables(*read_showers(floor_file))}
        ms_per_shower = {"simulator, one core": 1e3 * sim_seconds / args.test}
        quantized, graphs = {}, {}
        for flow in (1, 3):
            out = work / f"q{flow}"
            quantized[flow] = train_icaloflow_student(train_file, out, flow, GeneratorSettings(
                steps=args.steps, batch=1024, input_bits=INPUT_BITS), run=args.run)
            graphs[flow] = canonicalize(load_model(out / "model.onnx"))
            print(f"Flow-{flow} quantized student: MSE to the float student "
                  f"{quantized[flow]['mse_to_float_student']:.3g} (variance {quantized[flow]['target_variance']:.3g})",
                  flush=True)
        per_flow = {}
        for name, sampler in (("teacher", teacher_sampler(run, 7)), ("student", student_sampler(run, 7)),
                              ("firmware (emulated)", firmware_sampler(run, lambda f, rows: emulate(graphs[f], rows), 7))):
            start = time.perf_counter()
            with torch.no_grad():
                made, seconds = generate_showers(sampler, energy, seed=7)
            ms_per_shower[name] = 1e3 * (time.perf_counter() - start) / len(made)
            per_flow[name] = {f"flow{k}": 1e3 * v / len(made) for k, v in seconds.items()}
            samples[name] = observables(energy, made)
            print(f"{name}: {ms_per_shower[name]:.2f} ms per shower", flush=True)
        table = compare(ref, samples)
        plot(ref, {k: v for k, v in samples.items() if k != "simulator (another seed)"}, args.out.with_suffix(".png"))
        results["quantized"] = {f: {k: q[k] for k in ("student", "settings", "mse_to_float_student", "target_variance",
                                                      "weights", "nonzero_weights", "brevitas_vs_qonnx", "finetune_s")}
                                for f, q in quantized.items()}
        results["firmware"] = {f"flow{flow}": _compile(work / f"q{flow}", work / f"fw{flow}", flow) for flow in (1, 3)}
    results["metrics"] = table
    results["ms_per_shower"] = {k: round(v, 3) for k, v in ms_per_shower.items()}
    results["ms_per_shower_by_flow"] = per_flow
    results["student_over_teacher_speed"] = round(ms_per_shower["teacher"] / ms_per_shower["student"], 1)
    results["emulated_firmware_over_teacher_speed"] = round(ms_per_shower["teacher"] / ms_per_shower["firmware (emulated)"], 2)
    args.out.write_text(json.dumps(results, indent=1))
    keys = list(next(iter(table.values())))
    print("".ljust(26) + "".join(k.rjust(15) for k in keys))
    for name, row in table.items():
        print(name.ljust(26) + "".join(f"{row[k]:15.4g}" for k in keys))
    print(f"student / teacher speed: {results['student_over_teacher_speed']}x, emulated firmware / teacher: "
          f"{results['emulated_firmware_over_teacher_speed']}x")
    for flow, fw in results["firmware"].items():
        for backend, r in fw.items():
            print(f"{flow} {backend}: {r}")
    print(f"wrote {args.out}")


def _compile(model_dir: Path, out: Path, flow: int) -> dict:
    """Both backends on the student's test rows plus random grid inputs: what the reports say."""
    rows = np.load(model_dir / "test_inputs.npz")["x"]
    firmware = {}
    for backend in ("hls4ml", "rtl"):
        start = time.perf_counter()
        try:
            report = compile_model(model_dir / "model.onnx", out / backend, backend=backend, data=rows, n_random=2000,
                                   synth=False, log=lambda msg: None)
        except L1ForgeError as exc:  # recorded: a failed compile is a result too
            firmware[backend] = {"error": str(exc), "compile_s": round(time.perf_counter() - start, 1)}
            continue
        lat, res = report["latency"], report["resources"]
        per_second = 1e9 / (report["clock_ns"] * lat["ii"])
        firmware[backend] = {
            "verification": f"{report['verification']['status']} on {report['verification']['samples']} rows",
            "latency": f"{lat['cycles']} cycles = {lat['ns']:g} ns, II {lat['ii']} ({lat['source']})",
            "resources": f"{res['LUT']:,} LUT, {res['FF']:,} FF, {res['DSP']} DSP ({res['source']})",
            "rows_per_second_at_clock": per_second,
            "showers_per_second_at_clock": per_second / ROWS_PER_SHOWER[flow],
            "tables": [t["function"] for t in report["tables"]], "compile_s": round(time.perf_counter() - start, 1)}
    return firmware


if __name__ == "__main__":
    main()
