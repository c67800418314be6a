"""The seed paper's QKeras deep sets along three paths, layer by layer: QKeras' forward pass,
hls4ml's Keras converter with the paper's own hls4ml_config.yml (as is, and with QKeras' quantized
weights put into the file), and l1forge's frontend; with the time each path took.
Usage (needs the keras extra): .venv/bin/python benchmarks/keras_paths.py [--anchors DIR] [-n N] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

MODELS = ("deepsets_4bit_8const_vu13p_5ns_hls2020.1", "deepsets_6bit_8const_vu13p_5ns_hls2020.1",
          "deepsets_8bit_16const_config_only_no_reports", "deepsets_8bit_32const_config_only_no_reports")


def main() -> None:
    from l1forge.compiler.tools.keras_check import compare_keras_paths, paper_hls_config, summary_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anchors", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "anchors" / "l1-jet-id")
    ap.add_argument("-n", type=int, default=12000, help="random inputs on the paper's input grid per model")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "keras_paths.json")
    args = ap.parse_args()
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "inputs_per_model": args.n, "models": {}}
    for name in MODELS:
        d = args.anchors / name
        print(f"== {name}")
        result = compare_keras_paths(d / "keras_model.h5", n_random=args.n,
                                     hls_config=paper_hls_config(d / "hls4ml_config.yml"), log=lambda m: print(f"  {m}"))
        print("\n".join(summary_table(result)))
        results["models"][name] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
