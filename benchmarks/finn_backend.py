"""The finn backend on the seed paper's own saved deep sets: what FINN maps, bit-exactness in
FINN's execution, FINN's latency and resource estimates at two folding targets; then the paper's
4-bit N=8 and 8-bit N=32 deep sets and an 8-bit MLP (trained here briefly on generated jets)
through all three backends side by side (`l1forge report`).

    .venv/bin/python benchmarks/finn_backend.py [--n-random 10000] [--out benchmarks/results/finn_backend.json]

hls4ml's figures are l1forge's estimator fitted to Vivado, rtl's are Verilator latency and da4ml's
LUT estimate (no yosys here: --skip-synth; README gives the yosys counts), finn's are FINN's own
estimates (exp_cycles_per_layer, res_estimation). None is a Vivado result.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from paper_models_on_generated import PAPER_MODELS, anchors  # noqa: E402

import numpy as np  # noqa: E402

from l1forge.compiler.atomic import write_atomic  # noqa: E402

TARGETS = (None, 64)  # cycles per frame: the default (latency budget / clock / 4) and a relaxed one


def row(report: dict, wall: float) -> dict:
    verification = {k: report["verification"][k] for k in ("status", "samples", "mismatches")}
    if "rtl_layers" in report["verification"]:  # finn: the RTL layers run in Verilator
        verification["rtl_layers"] = [f"{r['name']} ({r['frames']} frames)" for r in report["verification"]["rtl_layers"]]
    return {"verification": verification,
            "latency": report["latency"], "resources": report["resources"], "wall_s": round(wall, 1),
            "layers": [{k: layer[k] for k in ("name", "class", "implements")} | {"cycles": layer["latency"]["cycles"],
                                                                                "LUT": layer["resources"]["LUT"]}
                       for layer in report["layers"]] if report["backend"] == "finn" else None,
            "folding": report.get("folding", {}).get("target_cycles_per_frame")}


def _train_mlp(tmp: Path) -> Path:
    """An 8-bit MLP (N=8, 3 features) trained briefly on 2,000 generated jets per class."""
    from l1forge.models.data.jets import generate_jets

    generate_jets(2000, 3, tmp / "jets.h5", progress=False)
    run = tmp / "mlp"
    subprocess.run([sys.executable, "-m", "l1forge", "train", "--data", str(tmp / "jets.h5"), "--model", "mlp",
                    "-N", "8", "--epochs", "5", "--out", str(run)], check=True, capture_output=True)
    return run


def main() -> int:
    from l1forge.compiler.pipeline import compile_model
    from l1forge.hw.report.compare import compare_builds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-random", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "finn_backend.json")
    args = ap.parse_args()
    root = anchors()
    result = {"models": "the seed paper's saved QKeras deep sets (l1-jet-id), compiled from keras_model.h5",
              "n_random": args.n_random, "finn": {}, "side_by_side": {}}
    with tempfile.TemporaryDirectory(prefix="l1forge-bench-finn-") as tmp:
        for (bits, n), (folder, _) in PAPER_MODELS.items():
            for target in TARGETS:
                key = f"{bits}-bit N={n}, target {target or 'default'}"
                t = time.perf_counter()
                report = compile_model(root / folder / "keras_model.h5", Path(tmp) / f"finn{bits}_{n}_{target}",
                                       backend="finn", n_random=args.n_random, finn_target_cycles=target,
                                       log=lambda m: None)
                result["finn"][key] = row(report, time.perf_counter() - t)
                lat, res = report["latency"], report["resources"]
                print(f"{key}: {lat['cycles']} cycles ({lat['ns']} ns), II {lat['ii']}, {res['LUT']:,} LUT, "
                      f"{res['DSP']} DSP, {res['BRAM']} BRAM; {report['verification']['status']} on "
                      f"{report['verification']['samples']:,}", flush=True)
        mlp_run = _train_mlp(Path(tmp))
        with np.load(mlp_run / "test_inputs.npz") as f:
            mlp_x, mlp_y = f["x"][:args.n_random], f["y"][:args.n_random]
        side = {"paper_4bit_N8": (root / PAPER_MODELS[(4, 8)][0] / "keras_model.h5", {}),
                "paper_8bit_N32": (root / PAPER_MODELS[(8, 32)][0] / "keras_model.h5", {}),
                "mlp_8bit_N8": (mlp_run / "model.onnx", {"data": mlp_x, "labels": mlp_y})}
        for name, (model, data) in side.items():
            builds = []
            for backend, extra in (("hls4ml", {}), ("rtl", {"synth": False}), ("finn", {})):
                out = Path(tmp) / f"{name}_{backend}"
                t = time.perf_counter()
                report = compile_model(model, out, backend=backend, n_random=args.n_random, log=lambda m: None,
                                       **extra, **data)
                result["side_by_side"][f"{name} {backend}"] = row(report, time.perf_counter() - t)
                builds.append(out)
                print(f"{name} {backend}: {report['latency']}, {report['resources']}", flush=True)
            comparison = args.out.parent / "finn_backend_comparison" / name
            comparison.mkdir(parents=True, exist_ok=True)
            compare_builds(builds, comparison)
            result.setdefault("comparisons", []).append(str((comparison / "comparison.md").relative_to(REPO)))
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
