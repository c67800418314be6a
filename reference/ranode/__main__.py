"""python -m l1forge.reference.ranode run: R-ANODE, ANODE, an idealised anomaly detector and a
supervised classifier on a dijet file of `l1forge data dijets` (it needs --n-sr-background
events too), at signal injections of the config's S/sqrt(B); writes results.json (max SIC per
method and injection, learned vs true signal fraction) and sic.png."""
from __future__ import annotations

import sys

import numpy as np

from ..files import check_output, entry_point, run_parser
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser, _ = run_parser("python -m l1forge.reference.ranode", __doc__, CONFIGS,
                           "dijet file (`l1forge data dijets --n-sr-background N ...`)",
                           "folder for results.json and sic.png", "train and compare the detectors",
                           "use the first LIMIT events of each kind")
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.data, check_output(args.out), CONFIGS[args.config], args.seed, args.limit)
        best = max(results["injections"], key=lambda r: r["s_over_sqrt_b"])
        sic = {name: float(np.median(best["max_sic"][name])) for name in ("R-ANODE (learned w)", "ANODE", "IAD")}
        print(f"wrote {args.out}/results.json: at S/sqrt(B) = {best['s_over_sqrt_b']:.2f} the median max SIC of "
              f"R-ANODE (learned w) is {sic['R-ANODE (learned w)']:.2f}, ANODE's {sic['ANODE']:.2f}, the IAD's "
              f"{sic['IAD']:.2f}")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
