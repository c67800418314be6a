"""Accuracy against firmware size on the same jets: learnable-bit (HGQ) taggers over a sweep of
beta (deep sets permutation-invariant and with per-particle grids on the pT-ordered slots, the MLP
on the concatenated constituents, the interaction network), and beside them uniform 4/6/8-bit
Brevitas deep sets of the paper's size, for each N. Every point is trained,
compiled with the RTL backend (da4ml Verilog), proven bit-exact in Verilator on the test split,
timed in Verilator at --clock-ns and at --fast-clock-ns (the deeper pipeline), and counted by
yosys. `--measure estimate` skips Verilator and yosys (da4ml's LUT estimate and pipeline depth
only, marked unverified) for quick sweeps; `--measure full` on chosen points replaces them.
Writes benchmarks/results/pareto.json and pareto.png (accuracy vs LUT; the published designs of
anchors/jedi-linear and the seed paper are drawn as such: their data differ).

Usage: .venv/bin/python benchmarks/pareto.py --data JETS.h5 [--n 8 16 32] [--betas 1e-6 1e-5]
       [--bits 4 6 8] [--families deepsets per-particle mlp intnet uniform] [--epochs 30]
       [--measure full|estimate] [--synth flat|by-stage]
Points already in --out with the same data label, epochs and cost are kept (the run resumes); a
point measured `full` is never replaced by an estimate.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ANCHORS = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "jedi-linear" / "summary"
# the seed paper's QKeras deep sets (hls4ml, Vivado; FACTS.md): N, accuracy, LUT, ns
SEED_PAPER = [(8, 0.640, 386_000, 95), (16, 0.694, 747_000, 115), (32, 0.759, 903_000, 130)]
FAMILIES = ("deepsets", "per-particle", "mlp", "intnet", "uniform")
MODEL = {"per-particle": "deepsets", "uniform": "deepsets"}  # the tagger each family trains


def _train(args, data, family: str, n: int, knob: float, run: Path, with_float: bool) -> dict:
    from l1forge.models.taggers import TaggerConfig
    from l1forge.models.train import TrainSettings, train_and_export

    if family == "uniform":
        cfg = TaggerConfig(model="deepsets", n_constituents=n, w_bits=int(knob), a_bits=int(knob))
    else:
        cfg = TaggerConfig(model=MODEL.get(family, family), n_constituents=n, hgq=True, beta=knob,
                           hgq_cost=args.cost, hgq_per_particle=family == "per-particle")
    settings = TrainSettings(epochs=args.epochs)
    done = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
    if done.get("config") == json.loads(json.dumps(cfg.to_dict())) and done.get("settings") == settings.__dict__:
        res = done  # trained by an interrupted run
    else:
        res = train_and_export(cfg, data, settings, run, progress=False, with_float=with_float)
    row = {"family": family, "n": n, ("bits" if family == "uniform" else "beta"): knob,
           "accuracy": res["quantized"]["accuracy"], "train_s": res["quantized"]["train_seconds"],
           "float_accuracy": res["float"]["accuracy"] if "float" in res else None,
           "pytorch_vs_qonnx_rows_differing": res["brevitas_vs_qonnx"]["rows_differing"]}
    if "bits" in res["quantized"]:
        row["learned"] = res["quantized"]["bits"]
    return row


def _measure(args, data, run: Path, row: dict) -> dict:
    """Compile at both clocks: full = Verilator (bit-exact on the test split, cycles) + yosys at
    --clock-ns; estimate = da4ml's LUT estimate and pipeline depth, unverified."""
    from l1forge.compiler.pipeline import compile_model

    full = args.measure == "full"
    row = {k: v for k, v in row.items() if not k.startswith(("clock_", "lut", "ff", "resource"))}
    row["measured"] = args.measure
    for clock, synth in ((args.clock_ns, full), (args.fast_clock_ns, False)):
        t = time.perf_counter()
        report = compile_model(run / "model.onnx", run / f"rtl_{clock:g}ns", backend="rtl", clock_ns=clock,
                               data=data.test.x, labels=data.test.y, n_random=2000, synth=synth,
                               synth_by_stage=args.synth == "by-stage", verify_firmware=full, log=lambda m: None)
        v, lat = report["verification"], report["latency"]
        if full and v["status"] != "bit-exact":
            raise SystemExit(f"error: {run} at {clock} ns is not bit-exact: {v}")
        row[f"clock_{clock:g}ns"] = {"cycles": lat["cycles"], "ns": lat["ns"], "latency_source": lat["source"],
                                     "verification": v["status"], "verified_samples": v.get("samples", 0),
                                     "compile_s": round(time.perf_counter() - t, 1),
                                     "da4ml_estimated_lut": report.get("estimate", report)["resources"]["estimated_LUT"]}
        if full:
            row[f"clock_{clock:g}ns"]["firmware_accuracy"] = report["accuracy"]["accuracy"]
        if clock == args.clock_ns:  # yosys (full) or the calibrated da4ml estimate, at --clock-ns
            r = report["resources"]
            row["lut"], row["ff"], row["resource_source"] = r["LUT"], r["FF"], r["source"]
    return row


def _published() -> list[dict]:
    rows = []
    for path in sorted(ANCHORS.glob("*-particle-3-feature*.json")):
        (entry,), = [json.loads(path.read_text()).values()]
        rows.append({"design": "JEDI-linear " + ("permutation-invariant" if "perminv" in path.name else "per-particle"),
                     "n": int(path.name.split("-")[0]), "accuracy": entry["acc"], "lut": entry["LUT"],
                     "ff": entry["FF"], "cycles": entry["latency"],
                     "ns": round(entry["latency"] * entry["actual_period"], 1), "source": path.name})
    rows += [{"design": "seed paper QKeras deep set (hls4ml)", "n": n, "accuracy": a, "lut": lut, "ns": ns,
              "source": "FACTS.md"} for n, a, lut, ns in SEED_PAPER]
    return rows


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    colors = {8: "tab:blue", 16: "tab:orange", 32: "tab:green"}
    markers = {"deepsets": "o-", "per-particle": "s--", "mlp": "D-.", "intnet": "v-", "uniform": "^:"}
    rows = list(results["points"].values())
    for n in sorted({r["n"] for r in rows}):
        deepsets = [r["float_accuracy"] for r in rows
                    if r["n"] == n and MODEL.get(r["family"], r["family"]) == "deepsets"]
        if deepsets:
            ax.axhline(deepsets[0], color=colors.get(n, "k"), lw=0.8, ls=(0, (1, 3)))
        for family, style in markers.items():
            pts = sorted((r["lut"], r["accuracy"], r["measured"]) for r in rows if r["n"] == n and r["family"] == family)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, color=colors.get(n, "k"),
                        label=f"l1forge {family} N={n}")
                est = [p for p in pts if p[2] == "estimate"]
                ax.plot([p[0] for p in est], [p[1] for p in est], "o", mfc="white", color=colors.get(n, "k"), ms=4)
    for r in results["published"]:
        if r.get("lut") and r["n"] in colors:
            marker = "*" if "JEDI" in r["design"] else "x"
            filled = "per-particle" in r["design"] or "x" == marker
            ax.plot(r["lut"], r["accuracy"], marker, ms=10, color=colors[r["n"]],
                    mfc=colors[r["n"]] if filled else "none")
    ax.plot([], [], "k*", ms=10, label="JEDI-linear (filled: per-particle), public data")
    ax.plot([], [], "kx", ms=8, label="seed paper hls4ml, public data")
    ax.set_xscale("log")
    ax.plot([], [], "ko", mfc="white", ms=4, label="l1forge, da4ml estimate (not synthesized)")
    ax.plot([], [], "k", lw=0.8, ls=(0, (1, 3)), label="l1forge float deep set")
    ax.set_xlabel("LUT (l1forge: yosys synth_xilinx or da4ml estimate; published: Vivado post-route / post-synthesis)")
    ax.set_ylabel("test accuracy (5 classes)")
    ax.set_title("accuracy vs LUT: l1forge points on l1forge jets; published points on the public jets")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    from l1forge.models.data.loader import load_jets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--label", help="How the jet file was made (default: its path)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--n", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--betas", type=float, nargs="+", default=[1e-7, 1e-6, 3e-6, 1e-5])
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 6, 8])
    ap.add_argument("--cost", default="adders", choices=["adders", "ebops"])
    ap.add_argument("--clock-ns", type=float, default=5.0)
    ap.add_argument("--fast-clock-ns", type=float, default=2.5)
    ap.add_argument("--measure", default="full", choices=["full", "estimate"])
    ap.add_argument("--synth", default="flat", choices=["flat", "by-stage"])
    ap.add_argument("--work", type=Path, default=Path("bench_runs/pareto"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pareto.json")
    args = ap.parse_args()
    results = {"data": args.label or str(args.data), "epochs": args.epochs, "cost": args.cost, "points": {},
               "published": _published()}
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    if all(previous.get(k) == results[k] for k in ("data", "epochs", "cost")):
        results["points"] = previous.get("points", {})
    for n in args.n:
        data = load_jets(args.data, n_constituents=n, features="3", seed=0)
        for family in args.families:
            model = MODEL.get(family, family)  # its float twin is that model's
            floats = [r["float_accuracy"] for r in results["points"].values()
                      if r["n"] == n and MODEL.get(r["family"], r["family"]) == model and r["float_accuracy"]]
            for knob in (args.bits if family == "uniform" else args.betas):
                key = f"{family}_N{n}_{'bits' if family == 'uniform' else 'beta'}{knob:g}"
                row, run = results["points"].get(key), args.work / key
                if row and (row["measured"] == "full" or args.measure == "estimate"):
                    continue
                if not row or not (run / "model.onnx").is_file():
                    row = _train(args, data, family, n, knob, run, with_float=not floats)
                    floats = floats or [row["float_accuracy"]]
                    row["float_accuracy"] = row["float_accuracy"] or floats[0]
                results["points"][key] = row = _measure(args, data, run, row)
                print(f"{key}: accuracy {row['accuracy']:.4f} (float {row['float_accuracy']:.4f}), "
                      f"{row['lut']:,} LUT ({row['resource_source']}), "
                      f"{row[f'clock_{args.clock_ns:g}ns']['cycles']} cycles at "
                      f"{args.clock_ns:g} ns, {row[f'clock_{args.fast_clock_ns:g}ns']['cycles']} at "
                      f"{args.fast_clock_ns:g} ns", flush=True)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=2) + "\n")
                plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
