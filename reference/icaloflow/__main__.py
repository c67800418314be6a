"""python -m l1forge.reference.icaloflow {train,sample,evaluate}: iCaloFlow on a CaloChallenge
dataset-2 shower file (`l1forge data showers --geometry ds2` writes one)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .data import DataError, read_showers, write_showers
from .evaluate import compare, observables, plot
from .generate import generate_showers, student_sampler, teacher_sampler
from .train import CONFIGS, Run, train_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.icaloflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the three teacher MAFs and distil an IAF student from each")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--config", choices=sorted(CONFIGS), default="small")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--limit", type=int, default=None, help="use the first LIMIT showers")
    s = sub.add_parser("sample", help="generate showers with a trained run")
    s.add_argument("--run", required=True)
    s.add_argument("--model", choices=("teacher", "student"), default="student")
    s.add_argument("--energies", default=None,
                   help="incident energies from this shower file (default: log-uniform 1 GeV - 1 TeV)")
    s.add_argument("--n", type=int, default=1000)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", required=True)
    e = sub.add_parser("evaluate", help="W1 distances and classifier AUC of generated showers against reference showers")
    e.add_argument("--data", required=True, help="reference showers")
    e.add_argument("--generated", nargs="+", required=True, metavar="NAME=FILE")
    e.add_argument("--out", default=None, help="write the table (JSON) and a plot next to it")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            summary = train_run(args.data, args.out, CONFIGS[args.config], args.seed, args.limit)
            print(f"wrote {args.out}: {summary['showers']} showers; " + ", ".join(
                f"Flow-{k} teacher {v['teacher_s']:.0f} s, student {v['student_s']:.0f} s" for k, v in summary["flows"].items()))
        elif args.command == "sample":
            run = Run(args.run)
            run.require()
            if args.energies:
                energy = read_showers(args.energies, args.n)[0]
            else:
                energy = 10 ** np.random.default_rng(args.seed).uniform(3, 6, args.n)
            sampler = (student_sampler if args.model == "student" else teacher_sampler)(run, args.seed)
            start = time.perf_counter()
            with torch.no_grad():
                showers, _ = generate_showers(sampler, energy, args.seed)
            seconds = time.perf_counter() - start
            write_showers(args.out, energy, showers)
            print(f"wrote {args.out}: {len(showers)} {args.model} showers in {seconds:.1f} s "
                  f"({1e3 * seconds / len(showers):.1f} ms per shower)")
        else:
            ref = observables(*read_showers(args.data))
            generated = {}
            for item in args.generated:
                name, _, path = item.rpartition("=")
                generated[name or Path(path).stem] = observables(*read_showers(path))
            table = compare(ref, generated)
            keys = list(next(iter(table.values())))
            print("".ljust(18) + "".join(k.rjust(15) for k in keys))
            for name, row in table.items():
                print(name.ljust(18) + "".join(f"{row[k]:15.4g}" for k in keys))
            if args.out:
                Path(args.out).write_text(json.dumps(table, indent=1))
                plot(ref, generated, Path(args.out).with_suffix(".png"))
    except (DataError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
