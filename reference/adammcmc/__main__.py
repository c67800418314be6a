"""python -m l1forge.reference.adammcmc run: train a top-vs-QCD tagger with Adam on a jet file
(`l1forge data jets` writes one), run AdamMCMC chains from it for each noise scale, and write
results.json and adammcmc.png (acceptance, accuracy, uncertainty in and out of distribution)."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, r = run_parser("python -m l1forge.reference.adammcmc", __doc__, CONFIGS, "a jet file (l1forge data jets)",
                           "folder for results.json and adammcmc.png", "train with Adam, sample with AdamMCMC, evaluate")
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
