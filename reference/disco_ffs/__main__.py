"""python -m l1forge.reference.disco_ffs run: select energy-flow polynomials for top and W tagging
on a jet file (`l1forge data jets` writes one) by distance correlation in the confusion window,
retrain the chosen set and the full model, and write results.json and disco_ffs.png."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .run import CONFIGS, TASKS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, r = run_parser("python -m l1forge.reference.disco_ffs", __doc__, CONFIGS, "a jet file (l1forge data jets)",
                           "folder for results.json and disco_ffs.png", "select features, retrain, evaluate")
    r.add_argument("--task", choices=sorted(TASKS) + ["both"], default="both")
    args = parser.parse_args(argv)

    def body():
        tasks = tuple(sorted(TASKS)) if args.task == "both" else (args.task,)
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], tasks, args.seed, args.limit)
        for task, r in results["tasks"].items():
            print(f"wrote {args.out}/results.json: {task} tagging, {len(r['records']) - 1} EFPs + m, pT: AUC "
                  f"{r['final']['auc']['mean']:.4f}; all {results['candidates']} EFPs: {r['full']['auc']['mean']:.4f}")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
