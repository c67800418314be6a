"""python -m l1forge.reference.caloclouds2 {train,sample,evaluate}: CaloClouds II on a point-cloud
shower file in the CaloClouds layout (`l1forge data showers --geometry ild` writes one)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .data import DataError, read_showers, write_showers
from .evaluate import classifier_auc, compare, plot
from .generate import generate_showers
from .observables import observables
from .train import CONFIGS, load_run, train_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.caloclouds2", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train ShowerFlow, the EDM teacher and the distilled student")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--config", choices=sorted(CONFIGS), default="small")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--limit", type=int, default=None, help="use the first LIMIT showers")
    s = sub.add_parser("sample", help="generate showers with a trained run")
    s.add_argument("--run", required=True)
    s.add_argument("--model", choices=("teacher", "student"), default="student")
    s.add_argument("--energies", default=None, help="incident energies from this shower file (default: uniform 10-90 GeV)")
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True)
    e = sub.add_parser("evaluate", help="W1 distances of generated showers to reference showers")
    e.add_argument("--data", required=True, help="reference showers")
    e.add_argument("--generated", nargs="+", required=True, metavar="NAME=FILE")
    e.add_argument("--out", default=None, help="write the table (JSON) and a plot next to it")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        if args.command == "train":
            summary = train_run(args.data, args.out, CONFIGS[args.config], args.seed, args.limit)
            print(f"wrote {args.out}: {summary['showers']} showers, {summary['points']} points; "
                  + ", ".join(f"{k} {v:.0f}" for k, v in summary["seconds"].items()))
        elif args.command == "sample":
            config, scaler, flow, teacher, student = load_run(args.run)
            if args.energies:
                energy = read_showers(args.energies, args.n)[0]
            else:
                energy = np.random.default_rng(args.seed).uniform(*scaler.energy_range, args.n)
            start = time.perf_counter()
            showers = generate_showers(flow, student if args.model == "student" else teacher, scaler, energy,
                                       one_step=args.model == "student", n_steps=config.sample_steps, seed=args.seed)
            seconds = time.perf_counter() - start
            write_showers(args.out, energy, showers)
            print(f"wrote {args.out}: {len(showers)} {args.model} showers in {seconds:.1f} s "
                  f"({len(showers) / seconds:.0f} showers/s)")
        else:
            ref = observables(read_showers(args.data)[1])
            generated = {}
            for item in args.generated:
                name, _, path = item.rpartition("=")
                generated[name or Path(path).stem] = observables(read_showers(path)[1])
            table = compare(ref, generated)
            auc = {name: classifier_auc(ref, obs) for name, obs in generated.items()}
            keys = list(next(iter(table.values())))
            print("W1 to the reference".ljust(20) + "".join(k.rjust(14) for k in keys) + "classifier AUC".rjust(16))
            for name, row in table.items():
                print(name.ljust(20) + "".join(f"{row[k]['w1']:9.3g}±{row[k]['error']:<4.1g}" for k in keys)
                      + (f"{auc[name]:16.3f}" if name in auc else ""))
            if args.out:
                Path(args.out).write_text(json.dumps({"w1": table, "classifier_auc": auc}, indent=1))
                plot(ref, generated, Path(args.out).with_suffix(".png"))
    except (DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
