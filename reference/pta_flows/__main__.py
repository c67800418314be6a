"""python -m l1forge.reference.pta_flows {train,evaluate}: train the amortised posterior of a
pulsar timing array's background on simulations, then compare it with exact-likelihood MCMC on
simulated data sets (Hellinger distance, time per posterior)."""
from __future__ import annotations

import argparse
import sys

from ..files import check_output, entry_point, non_negative
from .run import CONFIGS, evaluate, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l1forge.reference.pta_flows", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the flow on fresh simulations; writes RUN/flow.pt and RUN/run.json")
    t.add_argument("--out", required=True)
    t.add_argument("--config", choices=sorted(CONFIGS), default="small")
    t.add_argument("--seed", type=non_negative, default=0)
    e = sub.add_parser("evaluate", help="flow against exact-likelihood MCMC at the config's test points")
    e.add_argument("--run", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--seed", type=non_negative, default=1)
    args = parser.parse_args(argv)
    def body():
        if args.command == "train":
            summary = train(check_output(args.out), CONFIGS[args.config], args.seed)
            print(f"wrote {args.out}: best validation loss {summary['best_validation']:.3f} after "
                  f"{summary['simulations']} simulations in {summary['train_seconds']:.0f} s")
        else:
            results = evaluate(args.run, check_output(args.out), args.seed)
            print(f"wrote {args.out}/results.json: Hellinger flow-MCMC "
                  + ", ".join(f"{p['hellinger_flow_mcmc']:.3f}" for p in results["points"]))

    return entry_point(body)


if __name__ == "__main__":
    sys.exit(main())
