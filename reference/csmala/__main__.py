"""python -m l1forge.reference.csmala run: the paper's toy regression sampled with full MALA, naive
stochastic MALA and corrected stochastic MALA (zeta = 1 and centred) for each sample size; writes
results.json and csmala.png (credible-ball coverage and diameter against n)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..files import DataError, check_output, entry_point, non_negative, positive
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.csmala", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="sample, build credible balls, write the table and plot")
    r.add_argument("--out", required=True)
    r.add_argument("--config", choices=sorted(CONFIGS), default="small")
    r.add_argument("--sizes", type=positive, nargs="+", default=None, help="sample sizes n (default: the config's)")
    r.add_argument("--repetitions", type=positive, default=None)
    r.add_argument("--seed", type=non_negative, default=0)
    args = parser.parse_args(argv)

    def body():
        config = CONFIGS[args.config]
        if args.sizes:
            if min(args.sizes) < 2:
                raise DataError(f"--sizes must be at least 2 points, got {min(args.sizes)}")
            config = replace(config, sizes=tuple(args.sizes))
        if args.repetitions:
            config = replace(config, repetitions=args.repetitions)
        results = run_experiment(check_output(args.out), config, args.seed)
        print(f"wrote {args.out}/results.json")
        print("n".rjust(7) + "method".rjust(11) + "coverage".rjust(10) + "diameter".rjust(10) + "risk".rjust(10)
              + "accept".rjust(8))
        for row in results["summary"]:
            print(f"{row['n']:7d}{row['method']:>11}{row['coverage']:10.2f}{row['diameter']:10.4f}"
                  f"{row['risk']:10.2e}{row['acceptance']:8.2f}")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
