"""python -m l1forge.reference.convl2lflows run: train ConvL2LFlows (the energy flow and one
convolutional flow per layer) on the first part of a dataset-3 shower file (`l1forge data showers
--geometry ds3`), generate showers at the energies of the rest and evaluate them against it
(separation powers of the high-level features, low- and high-level classifier AUCs, W1 distances);
writes results.json, observables.png and the trained model (model/)."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .train import CONFIGS
from .run import run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, _ = run_parser("python -m l1forge.reference.convl2lflows", __doc__, CONFIGS,
                           "dataset-3 shower file (`l1forge data showers --geometry ds3`)",
                           "folder for results.json, observables.png and model/", "train and evaluate",
                           "use the first LIMIT showers")
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
        row = results["comparison"]["ConvL2LFlows"]
        floor = results["comparison"]["reference halves"]
        print(f"wrote {args.out}/results.json: classifier AUC low-level {row['low_level_auc']:.3f} "
              f"(reference halves {floor['low_level_auc']:.3f}), high-level {row['high_level_auc']:.3f} "
              f"({floor['high_level_auc']:.3f}); {1e3 * results['seconds_per_shower']:.1f} ms per shower")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
