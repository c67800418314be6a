"""python -m l1forge.reference.adammcmc run: train a top-vs-QCD tagger with Adam on a jet file
(`l1forge data jets` writes one), run AdamMCMC chains from it for each noise scale, and write
results.json and adammcmc.png (acceptance, accuracy, uncertainty in and out of distribution)."""
from __future__ import annotations

import argparse
import sys

from ..files import check_output, entry_point, non_negative, positive
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.adammcmc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train with Adam, sample with AdamMCMC, evaluate")
    r.add_argument("--data", required=True, help="a jet file (l1forge data jets)")
    r.add_argument("--out", required=True, help="folder for results.json and adammcmc.png")
    r.add_argument("--config", choices=sorted(CONFIGS), default="small")
    r.add_argument("--seed", type=non_negative, default=0)
    r.add_argument("--limit", type=positive, default=None, help="use the first LIMIT jets")
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
        best = max(results["chains"], key=lambda c: c["test"]["accuracy"])
        print(f"wrote {args.out}/results.json: Adam accuracy {results['adam']['test']['accuracy']:.3f}; "
              f"best chain sigma {best['sigma']:g} ({'prolate' if best['prolate'] else 'isotropic'}) "
              f"accuracy {best['test']['accuracy']:.3f}, acceptance {best['acceptance']:.2f}")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
