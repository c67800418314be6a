"""The seed paper's own trained QKeras deep sets on l1forge's generated jets, next to their
published accuracy on the public test jets: how close the generated data is to the public data.

    python benchmarks/paper_models_on_generated.py                 # 5,000 jets per class, all presets
    python benchmarks/paper_models_on_generated.py --n-per-class 1000 --presets public

For each preset of `l1forge data jets` (public: the default; v3: generator v3's default,
generator-level; v1: the generator before issue 23)
it generates the jets, applies the paper's preprocessing (constituents with pT > 2 GeV, the N
leading, features pT, eta_rel, phi_rel, "robust_fast" scaling x / (p95 - p5) per feature fitted
on the padded array, as the saved models were trained) and runs the four saved models
(QKeras 0.9.0 on tf_keras: needs the keras extra). Writes
benchmarks/results/paper_models_on_generated.json and a plot of the per-class mass, width and
multiplicity distributions.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from l1forge.compiler.atomic import write_atomic
from l1forge.models.data.jet_features import invariant_mass
from l1forge.models.data.jets import PRESETS, generate_jets
from l1forge.models.data.layout import CLASSES, P, PARTICLE_FEATURES
from l1forge.models.data.loader import read_jet_file, select_constituents

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
ANCHORS_TAR = REPO / "tests" / "fixtures" / "l1-jet-id-anchors.tar.xz"
# (bits, N) -> (folder, accuracy on the public test jets: the paper's saved models, evaluated with
# the same preprocessing; issue 23's table)
PAPER_MODELS = {
    (4, 8): ("deepsets_4bit_8const_vu13p_5ns_hls2020.1", 0.617),
    (6, 8): ("deepsets_6bit_8const_vu13p_5ns_hls2020.1", 0.630),
    (8, 16): ("deepsets_8bit_16const_config_only_no_reports", 0.693),
    (8, 32): ("deepsets_8bit_32const_config_only_no_reports", 0.755),
}
PUBLIC_RECALL = {(8, 32): {"Z": 0.73}}  # the only per-class figure on record (issue 23)
# The public training files' normalisation ranges (p95 - p5 of each of the 16 constituent features
# over the zero-padded array of the first 30 / 50 constituents, no pT cut), as printed in
# github.com/walkieq/l1-jet-id-fpga train_IN/example_data_load.ipynb (interquantile_range_30/_50).
# The phi column (0.9 * 2 pi minus padding) confirms the p95 - p5 reading.
PUBLIC_FEATURE_RANGES = {
    30: [100.171, 100.412, 113.844, 165.316, 0.11865, 124.322, 0.11896, 2.455, 0.27187, 0.15521, 5.5978, 0.27237,
         0.32214, 0.25232, 1.68371, 0.15490],
    50: [64.103, 64.319, 70.291, 117.414, 0.08512, 89.212, 0.08536, 2.2658, 0.26569, 0.17046, 5.3982, 0.26595,
         0.31738, 0.25574, 1.62401, 0.17004],
}


def anchors() -> Path:
    """The paper's saved models: ../shared/anchors/l1-jet-id if present, else unpacked from the
    test fixture."""
    shared = REPO.parent / "shared" / "anchors" / "l1-jet-id"
    if (shared / "INDEX.md").is_file():
        return shared
    target = Path(tempfile.gettempdir()) / "l1forge-bench-anchors"
    if not (target / "l1-jet-id" / "INDEX.md").is_file():
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(ANCHORS_TAR) as tar:
            tar.extractall(target, filter="data")
    return target / "l1-jet-id"


def paper_inputs(cons: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's preprocessing: pT > 2 GeV, N leading, (pT, eta_rel, phi_rel), empty jets
    dropped, robust_fast scaling fitted on the padded array. Returns (x, kept-jet mask)."""
    x, mask = select_constituents(cons, n, features="3", min_pt=2.0)
    kept = mask.any(axis=1)
    x = x[kept]
    p5, p95 = np.percentile(x.reshape(-1, x.shape[-1]), [5, 95], axis=0)
    return (x / np.where(p95 > p5, p95 - p5, 1.0)).astype(np.float32), kept


def distributions(cons: np.ndarray, labels: np.ndarray) -> dict:
    """Per class: mass of the leading 32 constituents, their pT-weighted mean Delta R to the
    axis (width) and the constituent multiplicity (quantiles)."""
    lead = cons[:, :32]
    real = lead[:, :, P["e"]] > 0
    mass = invariant_mass((lead[:, :, [P["px"], P["py"], P["pz"], P["e"]]] * real[:, :, None]).sum(axis=1))
    pt = lead[:, :, P["pt"]] * real
    width = (pt * lead[:, :, P["deltaR"]]).sum(axis=1) / np.maximum(pt.sum(axis=1), 1e-9)
    mult = (cons[:, :, P["e"]] > 0).sum(axis=1)
    beyond = float((lead[:, :, P["deltaR"]][real] > 0.4).mean())
    out = {"leading32_beyond_dR_0.4": beyond, "classes": {}}
    for k, cls in enumerate(CLASSES):
        sel = labels == k
        out["classes"][cls] = {name: {q: float(np.quantile(v[sel], float(q))) for q in ("0.1", "0.5", "0.9")}
                               for name, v in (("mass32", mass), ("width32", width), ("multiplicity", mult))}
    out["_arrays"] = {"mass32": mass, "width32": width, "multiplicity": mult}
    return out


def feature_ranges(cons: np.ndarray) -> dict:
    """p95 - p5 of every constituent feature over the padded first 30 / 50 constituents, next to
    the public files' (ratio = generated / public)."""
    out = {}
    for n, public in PUBLIC_FEATURE_RANGES.items():
        p5, p95 = np.percentile(cons[:, :n].reshape(-1, cons.shape[-1]), [5, 95], axis=0)
        out[str(n)] = {name: {"generated": round(float(hi - lo), 5), "public": pub, "ratio": round(float((hi - lo) / pub), 3)}
                       for name, lo, hi, pub in zip(PARTICLE_FEATURES, p5, p95, public, strict=True)}
    return out


def evaluate(models: dict, cons: np.ndarray, labels: np.ndarray) -> dict:
    rows = {}
    for (bits, n), (keras_model, public) in models.items():
        x, kept = paper_inputs(cons, n)
        y = labels[kept]
        pred = keras_model.predict(x, batch_size=4096, verbose=0).argmax(axis=1)
        recall = {cls: float((pred[y == k] == k).mean()) for k, cls in enumerate(CLASSES)}
        rows[f"{bits}-bit N={n}"] = {"accuracy": float((pred == y).mean()), "public_accuracy": public,
                                    "gap_points": round(100 * (public - float((pred == y).mean())), 1),
                                    "recall": recall, "public_recall": PUBLIC_RECALL.get((bits, n), {}),
                                    "jets": int(len(y))}
    return rows


def plot(per_preset: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {"mass32": ("mass of the leading 32 constituents [GeV]", (0, 300)),
             "width32": ("pT-weighted mean Delta R, leading 32", (0, 0.4)),
             "multiplicity": ("constituents", (0, 150))}
    fig, axes = plt.subplots(len(per_preset), 3, figsize=(15, 4 * len(per_preset)), squeeze=False)
    for row, (preset, (arrays, labels)) in enumerate(per_preset.items()):
        for col, (name, (title, rng)) in enumerate(names.items()):
            ax = axes[row][col]
            for k, cls in enumerate(CLASSES):
                ax.hist(arrays[name][labels == k], bins=60, range=rng, histtype="step", density=True, label=cls)
            ax.set_title(f"{preset}: {title}", fontsize=9)
        axes[row][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-per-class", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--presets", default="public,v3,v1", help="comma-separated presets of l1forge data jets")
    ap.add_argument("--out", type=Path, default=RESULTS / "paper_models_on_generated.json")
    args = ap.parse_args()
    presets = args.presets.split(",")
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        print(f"error: unknown preset(s) {', '.join(unknown)}; known: {', '.join(PRESETS)}", file=sys.stderr)
        return 1
    from l1forge.compiler.tools.keras_check import load_qkeras

    root = anchors()
    models = {key: (load_qkeras(root / folder / "keras_model.h5"), public)
              for key, (folder, public) in PAPER_MODELS.items()}
    result = {"n_per_class": args.n_per_class, "seed": args.seed, "cores": os.cpu_count(),
              "preprocessing": "pT > 2 GeV, N leading, (pT, eta_rel, phi_rel), robust_fast x / (p95 - p5)",
              "models": "the seed paper's saved QKeras models (l1-jet-id), QKeras 0.9.0 forward pass",
              "presets": {}}
    arrays = {}
    for preset in presets:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            stats = generate_jets(args.n_per_class, args.seed, Path(tmp) / "jets.h5", settings=PRESETS[preset])
            seconds = time.perf_counter() - t
            cons, labels = read_jet_file(Path(tmp) / "jets.h5")
        dist = distributions(cons, labels)
        arrays[preset] = (dist.pop("_arrays"), labels)
        result["presets"][preset] = {
            "settings": PRESETS[preset].to_dict(), "generation_seconds": round(seconds, 1),
            "from_cache": stats["cached"],
            "jets_per_core_second": (None if stats["cached"] else round(
                5 * args.n_per_class / sum(c["core_seconds"] for c in stats["per_class"].values()), 1)),
            "models": evaluate(models, cons, labels), "distributions": dist, "feature_ranges": feature_ranges(cons)}
        for name, row in result["presets"][preset]["models"].items():
            print(f"{preset:7s} {name:12s} accuracy {row['accuracy']:.3f} (public {row['public_accuracy']:.3f}) "
                  + " ".join(f"{c} {r:.2f}" for c, r in row["recall"].items()))
        for n, ranges in result["presets"][preset]["feature_ranges"].items():
            print(f"{preset:7s} N={n} feature ranges / public: "
                  + " ".join(f"{k.removeprefix('j1_')} {ranges[k]['ratio']:.2f}" for k in ("j1_pt", "j1_etarel", "j1_phirel", "j1_deltaR")))
    png = args.out.with_suffix(".png")
    plot(arrays, png)
    result["plot"] = str(png.relative_to(REPO)) if png.is_relative_to(REPO) else str(png)
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
