"""CaloClouds II on l1forge's ILD-like showers (small config): teacher (Heun, 25 network
evaluations), consistency-distilled student (one evaluation) and the quantized student as
firmware (its QONNX graph run by the compiler's emulator, the firmware's exact meaning), each
trained with two seeds. W1 distances of the paper's observables to held-out simulator showers
(bootstrap errors) beside the simulator-vs-simulator floor, a classifier two-sample AUC against
the simulator, showers/s of simulator, teacher, student and emulated firmware measured in this run,
and seed 0's quantized student compiled with both backends (bit-exact on the benchmark's points,
latency, II, resources, points/s and showers/s at the clock). The quantized student also runs
with its noise drawn on chip (`l1forge noise`: LFSR-addressed Gaussian tables), generating and
compiled through the RTL backend, to measure what the approximation of the Gaussian costs.

Usage: .venv/bin/python benchmarks/caloclouds2_reference.py [--train 2000] [--test 1000] [--seeds 0 1]
       [--steps 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from l1forge.models.data.showers import generate_showers as simulate, shower_settings
from l1forge.reference.caloclouds2.data import read_showers
from l1forge.compiler.api import attach_noise_source, canonicalize, compile_model, emulate, load_model
from l1forge.models.generators import GeneratorSettings, train_caloclouds_student
from l1forge.models.generators.caloclouds import FirmwareStudent, emulated_student
from l1forge.reference.caloclouds2.evaluate import classifier_auc, compare, plot
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
    ap.add_argument("--steps", type=int, default=2000, help="quantization-aware fine-tuning steps")
    ap.add_argument("--scale", type=float, default=1.0, help="scale the small config's iterations and epochs "
                                                             "(a quick check of the script: 0.02)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "caloclouds2_reference.json")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    config = replace(SMALL, **{k: max(1, round(getattr(SMALL, k) * args.scale))
                               for k in ("teacher_iterations", "student_iterations", "flow_epochs")})
    results = {"machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                           "torch_threads": torch.get_num_threads()},
               "config": config.to_dict(), "train_showers": args.train, "test_showers": args.test, "runs": {}}
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
            summary = train_run(train_file, run, config, seed=seed)
            _, scaler, flow, teacher, student = load_run(run)
            for name, model, one_step in (("teacher", teacher, False), ("student", student, True)):
                start = time.perf_counter()
                made = generate_showers(flow, model, scaler, energy, one_step=one_step, n_steps=SMALL.sample_steps,
                                        seed=100 + seed)
                seconds = time.perf_counter() - start
                speed[f"{name} seed {seed}"] = len(made) / seconds
                samples[f"{name} seed {seed}"] = observables(made)
                print(f"seed {seed} {name}: {len(made) / seconds:.1f} showers/s", flush=True)
            quantized = train_caloclouds_student(train_file, tmp / f"q{seed}", GeneratorSettings(steps=args.steps,
                                                                                                batch=1024, seed=seed),
                                                 run=run)
            graph = canonicalize(load_model(tmp / f"q{seed}" / "model.onnx"))
            firmware = FirmwareStudent(lambda rows: emulate(graph, rows), student.edm)
            start = time.perf_counter()
            made = generate_showers(flow, firmware, scaler, energy, one_step=True, seed=100 + seed)
            speed[f"firmware (emulated) seed {seed}"] = len(made) / (time.perf_counter() - start)
            samples[f"firmware seed {seed}"] = observables(made)
            noisy = attach_noise_source(load_model(tmp / f"q{seed}" / "model.onnx"), [0, 1, 2, 3], seed=seed)
            lfsr = generate_showers(flow, emulated_student(canonicalize(noisy), student.edm), scaler, energy,
                                    one_step=True, seed=100 + seed)
            samples[f"firmware, on-chip noise seed {seed}"] = observables(lfsr)
            results["runs"][seed] = {"seconds": {**summary["seconds"], **quantized["timings"]},
                                     "final_losses": {k: v[-1] for k, v in summary["curves"].items()},
                                     "quantized_mse_to_float_student": quantized["mse_to_float_student"],
                                     "float_student_output_variance": quantized["target_variance"],
                                     "brevitas_vs_qonnx": quantized["brevitas_vs_qonnx"]}
            if seed == args.seeds[0]:
                points = np.load(tmp / f"q{seed}" / "test_inputs.npz")["x"]
                noisy.save(str(tmp / "lfsr.onnx"))
                results["firmware"] = _compile({"hls4ml": tmp / f"q{seed}" / "model.onnx",
                                                "rtl": tmp / f"q{seed}" / "model.onnx",
                                                "rtl, on-chip noise": tmp / "lfsr.onnx"},
                                               points, tmp / "fw", float(np.mean([len(s) for s in made])))
        table = compare(ref, samples, n_boot=20)
        results["classifier_auc"] = {name: round(classifier_auc(ref, obs), 4) for name, obs in samples.items()}
        plot(ref, {k: v for k, v in samples.items() if "seed 0" in k or "simulator" in k},
             args.out.with_suffix(".png"))
    results["w1"] = table
    results["showers_per_second"] = {k: round(v, 1) for k, v in speed.items()}
    teacher_speed = np.mean([v for k, v in speed.items() if k.startswith("teacher")])
    student_speed = np.mean([v for k, v in speed.items() if k.startswith("student")])
    firmware_speed = np.mean([v for k, v in speed.items() if k.startswith("firmware")])
    results["student_over_teacher_speed"] = round(float(student_speed / teacher_speed), 1)
    results["emulated_firmware_over_teacher_speed"] = round(float(firmware_speed / teacher_speed), 2)
    args.out.write_text(json.dumps(results, indent=1))
    keys = list(next(iter(table.values())))
    print("W1 to held-out simulator".ljust(26) + "".join(k.rjust(13) for k in keys))
    for name, row in table.items():
        print(name.ljust(26) + "".join(f"{row[k]['w1']:8.3g}±{row[k]['error']:<4.1g}" for k in keys))
    print("classifier AUC vs simulator: " + ", ".join(f"{k} {v}" for k, v in results["classifier_auc"].items()))
    print(f"student / teacher speed: {results['student_over_teacher_speed']}x, emulated firmware / teacher: "
          f"{results['emulated_firmware_over_teacher_speed']}x")
    for backend, fw in results["firmware"].items():
        print(f"{backend}: {fw['verification']}, {fw['latency']}, {fw['resources']}, "
              f"{fw['showers_per_second_at_clock']:,.0f} showers/s at the clock")
    print(f"wrote {args.out}")


def _compile(models: dict[str, Path], points: np.ndarray, out: Path, points_per_shower: float) -> dict:
    """Each build (name: backend, then how; model) on the benchmark's own points (their context
    columns where the noise is drawn on chip) plus random grid inputs: what the reports say."""
    firmware = {}
    for name, model in models.items():
        backend = name.split(",")[0]
        data = points[:, 4:] if "noise" in name else points
        report = compile_model(model, out / name.replace(", ", "_").replace(" ", "_"), backend=backend, data=data,
                               n_random=2000, synth=False, log=lambda msg: None)
        lat, res = report["latency"], report["resources"]
        per_second = 1e9 / (report["clock_ns"] * lat["ii"])
        firmware[name] = {
            "verification": f"{report['verification']['status']} on {report['verification']['samples']} points",
            "latency": f"{lat['cycles']} cycles = {lat['ns']:g} ns, II {lat['ii']} ({lat['source']})",
            "resources": f"{res['LUT']:,} LUT, {res['FF']:,} FF, {res['DSP']} DSP ({res['source']})",
            "points_per_second_at_clock": per_second,
            "showers_per_second_at_clock": per_second / points_per_shower, "points_per_shower": points_per_shower,
            "tables": len(report["tables"]), **({"noise_source": report["noise_source"]} if "noise_source" in report
                                                 else {})}
    return firmware


if __name__ == "__main__":
    main()
