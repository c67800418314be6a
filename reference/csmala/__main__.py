"""python -m l1forge.reference.csmala run: the paper's toy regression sampled with full, naive
stochastic and corrected stochastic MALA for each sample size; writes results.json and csmala.png
(credible-ball coverage and diameter against n)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.csmala", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="sample, build credible balls, write the table and plot")
    r.add_argument("--out", required=True)
    r.add_argument("--config", choices=sorted(CONFIGS), default="small")
    r.add_argument("--sizes", type=int, nargs="+", default=None, help="sample sizes n (default: the config's)")
    r.add_argument("--repetitions", type=int, default=None)
    r.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    if args.sizes:
        if min(args.sizes) < 2:
            print(f"error: --sizes must be at least 2 points, got {min(args.sizes)}", file=sys.stderr)
            return 2
        config = replace(config, sizes=tuple(args.sizes))
    if args.repetitions is not None:
        if args.repetitions < 1:
            print(f"error: --repetitions must be at least 1, got {args.repetitions}", file=sys.stderr)
            return 2
        config = replace(config, repetitions=args.repetitions)
    results = run_experiment(args.out, config, args.seed)
    print(f"wrote {args.out}/results.json")
    print("n".rjust(7) + "method".rjust(11) + "coverage".rjust(10) + "diameter".rjust(10) + "risk".rjust(10)
          + "accept".rjust(8))
    for row in results["summary"]:
        print(f"{row['n']:7d}{row['method']:>11}{row['coverage']:10.2f}{row['diameter']:10.4f}{row['risk']:10.2e}"
              f"{row['acceptance']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
