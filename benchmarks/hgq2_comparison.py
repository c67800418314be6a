"""HGQ2 (Keras 3, JAX CPU) deep set on the same jets split l1forge trains on, traced with da4ml.

A same-data reference for l1forge's learnable-bit deep set (issue 13 item 5): the paper-size deep
set (phi: per-particle Dense 32, 32, 32 with ReLU; mean over the N particles; rho: Dense 32, ReLU,
Dense 5 logits) built from HGQ2 layers with its default per-element heterogeneous quantizers
(weights and biases per element, activations per element except the batch axis) and its EBOPs
resource regulariser (beta per EBOP), trained with Adam; then HGQ2's documented path to hardware:
`hgq.utils.trace_minmax` on the training set (fixes the integer bits of the WRAP activation
quantizers, returns EBOPs), `da4ml.converter.trace_model` + `da4ml.trace.comb_trace` for da4ml's
LUT estimate (`.cost`) and adder depth (`.latency`), and da4ml's C++ interpreter (`.predict`)
against the Keras model on the test set.

It must NOT run in l1forge's .venv: hgq2 ships a top-level `qkeras` package. Throw-away venv:

    python3 -m venv /tmp/hgq2venv
    /tmp/hgq2venv/bin/pip install hgq2==0.2.0 da4ml==0.6.0 "jax[cpu]" keras h5py numpy
    # installed 2026-12: hgq2 0.2.0, keras 3.15.1, jax/jaxlib 0.10.2, da4ml 0.6.0, numpy 2.4.6

The data is exported once with l1forge's own loader (its .venv), same split and preprocessing:

    /work/main/.venv/bin/python -c "
    from l1forge.models.data.loader import load_jets; import numpy as np
    d = load_jets('/tmp/det/jets300k.h5', n_constituents=8, features='3', seed=0)
    np.savez('/tmp/hgq2/jets_N8.npz', **{f'{a}_{s}': getattr(getattr(d, s), a)
             for s in ('train', 'val', 'test') for a in ('x', 'y')})"

(/tmp/det/jets300k.h5 is `l1forge data jets --n-per-class 60000 --seed 100`, generator v3.) Then:

    OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
      /tmp/hgq2venv/bin/python benchmarks/hgq2_comparison.py --beta 3e-6 1e-5   # then --beta 1e-6 3e-7

Each beta is merged into the results file under its own key, so betas can be run one at a time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DA_DEFAULT_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

DATA_DESCRIPTION = "l1forge data jets --n-per-class 60000 --seed 100 (generator v3, 300k jets)"


def build_deepset(n_particles: int, n_features: int, beta: float, phi=(32, 32, 32), rho=(32,), n_classes: int = 5):
    import keras
    from hgq.config import LayerConfigScope
    from hgq.layers import QDense, QGlobalAveragePooling1D

    # beta0 and enable_ebops are read when each layer is constructed; the quantizer defaults are
    # already per element (kbi weights/biases with homogeneous_axis=(), kif activations
    # homogeneous over the batch axis only).
    with LayerConfigScope(beta0=beta, enable_ebops=True):
        inp = keras.Input((n_particles, n_features), name="particles")
        x = inp
        for i, width in enumerate(phi):  # QDense on (batch, N, F) acts per particle, shared weights
            x = QDense(width, activation="relu", name=f"phi{i}")(x)
        x = QGlobalAveragePooling1D(name="mean")(x)
        for i, width in enumerate(rho):
            x = QDense(width, activation="relu", name=f"rho{i}")(x)
        out = QDense(n_classes, name="logits")(x)
    return keras.Model(inp, out, name="hgq2_deepset")


def layer_ebops(model) -> dict[str, int]:
    return {layer.name: int(layer.ebops) for layer in model.layers if getattr(layer, "enable_ebops", False)}


def run_beta(beta: float, data: dict, epochs: int, batch_size: int, lr: float, seed: int, log) -> dict:
    import decimal

    import keras
    import numpy as np
    from da4ml.converter import trace_model
    from da4ml.trace import comb_trace
    from hgq.utils import trace_minmax
    from hgq.utils.sugar import FreeEBOPs

    keras.utils.set_random_seed(seed)
    x_tr, y_tr, x_va, y_va, x_te, y_te = (data[k] for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"))
    model = build_deepset(x_tr.shape[1], x_tr.shape[2], beta)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    log(f"beta={beta:g}: {model.count_params()} parameters, training {epochs} epochs on {len(x_tr)} jets")
    w0, c0 = time.perf_counter(), time.process_time()
    hist = model.fit(x_tr, y_tr, batch_size=batch_size, epochs=epochs, validation_data=(x_va, y_va),
                     callbacks=[FreeEBOPs()], verbose=2)
    train_s, train_cpu_s = time.perf_counter() - w0, time.process_time() - c0

    # HGQ2's step before deployment: recompute the WRAP activation quantizers' integer bits from the
    # training set (the deployed model) and get EBOPs.
    acc_before_trace = float(model.evaluate(x_te, y_te, batch_size=4096, verbose=0)[1])
    ebops = trace_minmax(model, x_tr, batch_size=4096)
    per_layer = layer_ebops(model)
    logits = np.asarray(model.predict(x_te, batch_size=4096, verbose=0))
    acc = float(np.mean(np.argmax(logits, axis=1) == y_te))
    val_acc = float(np.mean(np.argmax(np.asarray(model.predict(x_va, batch_size=4096, verbose=0)), axis=1) == y_va))
    log(f"  test acc {acc:.4f} (before trace_minmax {acc_before_trace:.4f}), val acc {val_acc:.4f}, EBOPs {ebops}")

    # da4ml: HGQ2 registers a 'keras' plugin for da4ml.converter.trace_model. Constants are divided
    # as Decimals; raise the precision (28 digits by default) so no fraction bit is lost.
    w1 = time.perf_counter()
    with decimal.localcontext(prec=250):
        inp, out = trace_model(model)
        comb = comb_trace(inp, out)
    trace_s = time.perf_counter() - w1
    lat = comb.latency
    log(f"  da4ml: {comb.cost:.0f} LUT estimate, adder depth {lat[1]:g}, traced in {trace_s:.1f} s")

    emu = np.asarray(comb.predict(x_te.reshape(len(x_te), -1), n_threads=1))
    ref = logits.astype(np.float64)
    row_mismatch = int(np.sum(np.any(emu != ref, axis=1)))
    argmax_mismatch = int(np.sum(np.argmax(emu, axis=1) != np.argmax(ref, axis=1)))
    log(f"  da4ml emulator vs Keras on {len(x_te)} test jets: {row_mismatch} rows differ "
        f"(max |diff| {float(np.max(np.abs(emu - ref))):.3g}), {argmax_mismatch} argmax differ")

    return {
        "beta": beta,
        "epochs": epochs,
        "test_accuracy": acc,
        "test_accuracy_before_trace_minmax": acc_before_trace,
        "val_accuracy": val_acc,
        "ebops": int(ebops),
        "ebops_per_layer": per_layer,
        "da4ml_lut_estimate": float(comb.cost),
        "da4ml_adder_depth": float(lat[1]),
        "da4ml_latency_min_max": [float(lat[0]), float(lat[1])],
        "da4ml_ops": len(comb.ops),
        "da4ml_trace_seconds": round(trace_s, 2),
        "training_seconds": round(train_s, 1),
        "training_cpu_seconds": round(train_cpu_s, 1),
        "emulator_rows_compared": len(x_te),
        "emulator_mismatching_rows": row_mismatch,
        "emulator_argmax_mismatches": argmax_mismatch,
        "history": {k: [round(float(v), 5) for v in vals] for k, vals in hist.history.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/hgq2/jets_N8.npz"))
    ap.add_argument("--beta", type=float, nargs="+", default=[3e-6])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=0, help="use only the first N training jets (smoke tests)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hgq2_comparison.json")
    args = ap.parse_args()

    from importlib.metadata import version

    import numpy as np

    data = dict(np.load(args.data))
    if args.n_train:
        data["x_train"], data["y_train"] = data["x_train"][: args.n_train], data["y_train"][: args.n_train]
    n_particles = int(data["x_train"].shape[1])

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.update({
        "versions": {p: version(p) for p in ("hgq2", "keras", "jax", "jaxlib", "da4ml", "numpy")},
        "backend": os.environ["KERAS_BACKEND"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, one thread",
        "data": {"description": DATA_DESCRIPTION, "N": n_particles, "features": int(data["x_train"].shape[2]),
                 "loader": "l1forge.models.data.loader.load_jets(n_constituents=8, features='3', seed=0)",
                 "split": {s: int(len(data[f"y_{s}"])) for s in ("train", "val", "test")}},
        "model": "phi Dense 32,32,32 ReLU (per particle) -> mean over particles -> rho Dense 32 ReLU -> Dense 5 logits; "
                 "HGQ2 0.2.0 default per-element heterogeneous quantizers (QDense, QGlobalAveragePooling1D), EBOPs regulariser",
        "training": {"optimizer": "Adam", "lr": args.lr, "batch_size": args.batch_size, "seed": args.seed,
                     "loss": "sparse categorical cross-entropy on logits", "beta_schedule": "constant"},
    })
    runs = results.setdefault("runs", {})
    for beta in args.beta:
        runs[f"{beta:g}"] = run_beta(beta, data, args.epochs, args.batch_size, args.lr, args.seed, log=print)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written {args.out}")


if __name__ == "__main__":
    main()
