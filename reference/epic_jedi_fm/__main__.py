"""python -m l1forge.reference.epic_jedi_fm run: train EPiC-FM and EPiC-JeDi per jet class on a jet
file (`l1forge data jets --radius 0.8` writes JetNet-like ones), generate the test jets' worth of
clouds, and write results.json (the JetNet metrics: W1M, W1P, W1EFP, FPD, KPD and KL divergences,
beside the train-vs-test "truth" values), epic.png and the trained weights."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .run import CONFIGS, MODELS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, r = run_parser("python -m l1forge.reference.epic_jedi_fm", __doc__, CONFIGS, "a jet file (l1forge data jets)",
                           "folder for results.json, epic.png and the weights", "train, generate, evaluate")
    r.add_argument("--model", choices=sorted(MODELS) + ["both"], default="both")
    args = parser.parse_args(argv)

    def body():
        models = tuple(sorted(MODELS)) if args.model == "both" else (args.model,)
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], models, args.seed, args.limit)
        for jet_class, entry in results["classes"].items():
            for model in entry["models"].values():
                print(f"wrote {args.out}/results.json: {jet_class} jets, {model['name']}: W1M "
                      f"{model['metrics']['W1M']['mean']:.2e} (train vs test {entry['truth']['W1M']['mean']:.2e})")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
