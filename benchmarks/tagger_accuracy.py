"""The paper's taggers on the same jets: deep set (phi=[32,32,32], rho=[32], mean) and interaction
network (effects [12,6], objects [36,18,6], classifier [170], mean), 3 features, 8 bits, per N:
quantized vs float test accuracy and AUC, then compile and C-simulation build times of the
trained quantized model, with bit-exact co-simulation on its test split.
Usage: .venv/bin/python benchmarks/tagger_accuracy.py --data JETS.h5 [--models deepsets intnet]
       [--n 8 16 32] [--epochs 30] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path



def main() -> None:
    from l1forge.compiler.pipeline import compile_model
    from l1forge.models.data.loader import load_jets
    from l1forge.models.taggers import TaggerConfig
    from l1forge.models.train import TrainSettings, train_and_export

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--label", help="How the jet file was made (default: its path); runs with the same label and "
                                    "epochs already in --out are kept")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--n", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--models", nargs="+", default=["deepsets", "intnet"], choices=["deepsets", "intnet", "mlp"])
    ap.add_argument("--work", type=Path, default=Path("bench_runs"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "tagger_accuracy.json")
    args = ap.parse_args()
    results = {"data": args.label or str(args.data), "epochs": args.epochs, "runs": {}}
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    if previous.get("data") == results["data"] and previous.get("epochs") == args.epochs:
        results["runs"] = previous.get("runs", {})  # runs of other models / N are kept
    for model, n in [(m, n) for n in args.n for m in args.models]:
        data = load_jets(args.data, n_constituents=n, features="3", seed=0)
        cfg = TaggerConfig(model=model, n_constituents=n, n_features=3, pool="mean")
        run = args.work / f"{model}_N{n}"
        t = time.perf_counter()
        res = train_and_export(cfg, data, TrainSettings(epochs=args.epochs), run, progress=False)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        report = compile_model(run / "model.onnx", run / "hls4ml", data=data.test.x, labels=data.test.y,
                               n_random=2000, log=lambda m: None)
        row = {
            "jets": {k: int(len(getattr(data, k).y)) for k in ("train", "val", "test")},
            "quantized": {"accuracy": res["quantized"]["accuracy"], "auc": res["quantized"]["auc"]},
            "float": {"accuracy": res["float"]["accuracy"], "auc": res["float"]["auc"]},
            "brevitas_vs_qonnx": res["brevitas_vs_qonnx"],
            "train_wall_s": round(train_s, 1),
            "compile_wall_s": round(time.perf_counter() - t, 1),
            "timings": report["timings"],
            "verification": {k: report["verification"][k] for k in ("status", "samples", "mismatches")},
            "firmware_accuracy": report["accuracy"]["accuracy"],
        }
        results["runs"][f"{model}_N{n}"] = row
        print(f"{model} N={n}: quantized {row['quantized']['accuracy']:.4f} float {row['float']['accuracy']:.4f} "
              f"firmware {row['firmware_accuracy']:.4f} ({row['verification']['status']} on "
              f"{row['verification']['samples']}); train {train_s:.0f} s; timings {report['timings']}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
