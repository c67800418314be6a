"""Estimator error on every reference: the hls4ml estimator against Vivado 2020.1 (the seed paper's
4- and 6-bit deep sets), the da4ml-based RTL estimator against yosys on the RTL backend's builds,
and the hls4ml estimator's figures for our own trained models next to the RTL backend's yosys counts.
Usage: .venv/bin/python benchmarks/estimator_calibration.py [--anchors DIR] [--rtl RTL_DIR ...] [--out FILE]
An RTL_DIR is a `compile --backend rtl` folder synthesized with yosys (e.g. bench_runs/*/rtl from
benchmarks/rtl_backend.py); its model is also compiled with the hls4ml backend (no verification).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    from l1forge.compiler.pipeline import compile_model
    from l1forge.hw.estimate.calibration import hls4ml_references
    from l1forge.hw.estimate import estimate_rtl

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anchors", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "anchors" / "l1-jet-id")
    ap.add_argument("--rtl", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "estimator_calibration.json")
    args = ap.parse_args()
    results = {"hls4ml_vs_vivado": hls4ml_references(args.anchors), "rtl_vs_yosys": {}}
    for row in results["hls4ml_vs_vivado"]:
        print(f"{row['reference']}: estimate {row['estimate']} vs {row['measured']}: error {row['relative_error']}")
    for rtl in args.rtl:
        report = json.loads((rtl / "report.json").read_text())
        res = report["resources"]
        if not res["source"].startswith("yosys"):
            raise SystemExit(f"{rtl}: not synthesized with yosys ({res['source']})")
        est = estimate_rtl(res["estimated_LUT"], rtl / "rtl_prj" / "src" / "l1forge_model.v")
        with tempfile.TemporaryDirectory() as tmp:
            hls = compile_model(rtl / "canonical.onnx", Path(tmp) / "hls", verify_firmware=False, log=lambda m: None)
        key = rtl.parent.name if rtl.name == "rtl" else rtl.name
        results["rtl_vs_yosys"][key] = {
            "yosys": {"LUT": res["LUT"], "FF": res["FF"], "source": res["source"]},
            "rtl_estimate": {"LUT": est["LUT"], "FF": est["FF"], "source": est["source"]},
            "relative_error": {k: round(est[k] / res[k] - 1.0, 4) for k in ("LUT", "FF")},
            "hls4ml_estimate": {k: hls["resources"][k] for k in ("LUT", "FF", "DSP", "source")}
            | {"cycles": hls["latency"]["cycles"]},
            "rtl_cycles": report["latency"]["cycles"],
        }
        print(f"{key}: {results['rtl_vs_yosys'][key]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
