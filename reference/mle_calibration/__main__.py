"""python -m l1forge.reference.mle_calibration run: train a conditional flow p(x | E) and a
regression network on two shower files that differ in their energy prior (flat and log-uniform,
`l1forge data showers --spectrum ...`), calibrate showers at fixed energies (`--energy E`) by
maximum likelihood and by regression, and write results.json and calibration.png (bias and
resolution against E)."""
from __future__ import annotations

import argparse
import sys

from ..files import check_output, entry_point, non_negative
from .run import CONFIGS, run_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.mle_calibration", description=__doc__)
    run = parser.add_subparsers(dest="command", required=True).add_parser("run", help="train, calibrate, compare")
    run.add_argument("--flat", required=True, help="training showers with a flat energy spectrum")
    run.add_argument("--log-uniform", required=True, help="training showers with a log-uniform spectrum")
    run.add_argument("--test", required=True, nargs="+", help="showers at fixed energies (one or more files)")
    run.add_argument("--out", required=True, help="folder for results.json and calibration.png")
    run.add_argument("--config", choices=sorted(CONFIGS), default="small")
    run.add_argument("--seed", type=non_negative, default=0)
    args = parser.parse_args(argv)

    def body():
        results = run_experiment(args.flat, args.log_uniform, args.test, check_output(args.out), CONFIGS[args.config],
                                 args.seed, progress=lambda _: None)
        for prior, r in results["priors"].items():
            worst = max(r["by_energy"], key=lambda row: abs(row["regression"]["mode"] - 1))
            print(f"wrote {args.out}/results.json: {prior} prior, at {worst['energy_gev']:g} GeV the regression's "
                  f"mode of E_hat/E is {worst['regression']['mode']:.3f}, the likelihood's "
                  f"{worst['likelihood']['mode']:.3f}")

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
