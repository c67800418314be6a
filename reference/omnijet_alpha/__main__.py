"""python -m l1forge.reference.omnijet_alpha run: OmniJet-alpha on a jet file with top and QCD jets
(`l1forge data jets`): the VQ-VAE tokenizer, the GPT backbone (generation by sampling) and the
transfer to top tagging (fine-tuned, frozen, from scratch) against the training-set size; writes
results.json and omnijet.png."""
from __future__ import annotations

import sys

from ..files import check_output, entry_point, run_parser
from .run import run_experiment
from .train import CONFIGS


def main(argv: list[str] | None = None) -> int:
    parser, _ = run_parser("python -m l1forge.reference.omnijet_alpha", __doc__, CONFIGS,
                           "jet file with top and QCD jets (`l1forge data jets`)", "folder for results.json and omnijet.png",
                           "train and evaluate")
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
        best = {mode: max(acc.values(), default=float("nan")) for mode, acc in results["transfer"].items()}
        print(f"wrote {args.out}/results.json: backbone test loss {results['backbone']['test_loss']:.2f} "
              f"(uniform {results['backbone']['uniform_loss']:.2f}); best test accuracy "
              + ", ".join(f"{m} {a:.3f}" for m, a in best.items()))

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
