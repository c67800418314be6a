"""python -m l1forge.reference.caloclouds {train,sample}: CaloClouds on a point-cloud shower file in
the CaloClouds layout (`l1forge data showers --geometry ild` writes one). Generated showers are
scored by `python -m l1forge.reference.caloclouds2 evaluate` (the same observables and W1
distances)."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ..caloclouds2.data import read_showers, write_showers
from ..files import check_output, entry_point, non_negative, positive
from .train import CONFIGS, generate_showers, load_run, train_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.caloclouds", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train ShowerFlow, then the encoder, DDPM and latent flow")
    t.add_argument("--data", required=True, help="a shower file (l1forge data showers --geometry ild)")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--config", choices=sorted(CONFIGS), default="small")
    t.add_argument("--seed", type=non_negative, default=0)
    t.add_argument("--limit", type=positive, default=None, help="use the first LIMIT showers")
    s = sub.add_parser("sample", help="generate showers with a trained run")
    s.add_argument("--run", required=True)
    s.add_argument("--energies", default=None, help="incident energies from this shower file (default: uniform)")
    s.add_argument("--n", type=positive, default=1000)
    s.add_argument("--seed", type=non_negative, default=1)
    s.add_argument("--out", required=True, help="shower file to write")
    args = parser.parse_args(argv)

    def body():
        if args.command == "train":
            summary = train_run(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
            print(f"wrote {args.out}: {summary['showers']} showers; "
                  + ", ".join(f"{k} {v:.0f}" for k, v in summary["seconds"].items()))
            return
        config, scaler, flow, model = load_run(args.run)
        if args.energies:
            energy = read_showers(args.energies, args.n)[0]
        else:
            energy = np.random.default_rng(args.seed).uniform(*scaler.energy_range, args.n)
        start = time.perf_counter()
        showers = generate_showers(flow, model, scaler, energy, seed=args.seed)
        seconds = time.perf_counter() - start
        write_showers(args.out, energy, showers)
        print(f"wrote {args.out}: {len(showers)} showers in {seconds:.1f} s ({seconds / len(showers) * 1e3:.0f} ms each)")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
