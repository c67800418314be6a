"""python -m l1forge.reference.supercalo run: train SuperCalo's coarse generator (Flow-1, Flow-2)
and upsampling flow on the first part of a dataset-2 shower file (`l1forge data showers --geometry
ds2`), then evaluate on the rest: the test showers' coarse voxels upsampled, a uniform upsampling
and the full chain against the true showers (observables, W1 distances, classifier AUC), and the
variation among fine showers upsampled from one coarse shower; writes results.json and
observables.png."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, _ = run_parser("python -m l1forge.reference.supercalo", __doc__, CONFIGS,
                           "dataset-2 shower file (`l1forge data showers --geometry ds2`)",
                           "folder for results.json and observables.png", "train and evaluate",
                           "use the first LIMIT showers")
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
        table = results["comparison"]
        aucs = ", ".join(f"{name} {row['classifier_auc']:.3f}" for name, row in table.items())
        print(f"wrote {args.out}/results.json: classifier AUC against the test showers: {aucs}")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
