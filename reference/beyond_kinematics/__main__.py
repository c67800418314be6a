"""python -m l1forge.reference.beyond_kinematics run: train the conditional EPiC flow-matching model
on a JetClass-like jet file (`l1forge data jetclass`), generate the test jets' worth and write
results.json (per-class KL divergences of the 13 particle features, the impact-parameter
significances and the jet mass; a classifier AUC real vs generated; beside train vs test),
beyond_kinematics.png and model.pt."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, _ = run_parser("python -m l1forge.reference.beyond_kinematics", __doc__, CONFIGS,
                           "a JetClass-like jet file (l1forge data jetclass)",
                           "folder for results.json, beyond_kinematics.png and model.pt", "train, generate, evaluate")
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
        mean, truth = results["generated"]["kl_mean_over_classes"], results["truth (train vs test)"]["kl_mean_over_classes"]
        print(f"wrote {args.out}/results.json: AUC real vs generated {results['generated']['classifier_auc']:.3f} "
              f"(train vs test {results['truth (train vs test)']['classifier_auc']:.3f}); mean KL d0 significance "
              f"{mean['d0_significance']:.3f} (truth {truth['d0_significance']:.3f})")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
