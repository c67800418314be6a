"""The inference papers of reference/ at their small configs, with the papers' headline claims beside
them: AdamMCMC (arXiv 2312.14027) on l1forge top vs QCD jets (acceptance, accuracy against Adam and
the ensemble's uncertainty against sigma, in and out of distribution), corrected stochastic MALA
(arXiv 2310.09335) on the paper's toy regression (credible-ball coverage and diameter against n for
full, naive and corrected MALA), the PTA flow (arXiv 2310.12209: the flow's background posterior
against exact-likelihood MCMC, Hellinger distance, time per posterior) and R-ANODE (arXiv 2312.11629:
max SIC against S/sqrt(B) for R-ANODE with fixed and learned w, ANODE, an idealised anomaly detector
and a supervised classifier, on LHC-Olympics-like dijets from `l1forge data dijets`) and CWoLa on
stellar streams (arXiv 2305.03761: purity and completeness of the top stars over mock Gaia patches
with galpy-integrated GD-1-like streams). Writes
benchmarks/results/{adammcmc,csmala,pta_flows,ranode,cwola_streams}_reference.{json,png}.

Usage: .venv/bin/python benchmarks/inference_references.py [--jets-per-class 8000]
       [--only adammcmc|csmala|pta|ranode|cwola] [--pta-run DIR (a trained small run to evaluate instead of training)]
       [--dijet-background 60000]
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from pathlib import Path

from l1forge.models.data.dijets import generate_dijets, sr_window_coverage
from l1forge.models.data.jets import generate_jets
from l1forge.reference.adammcmc.run import SMALL as ADAM_SMALL, run_experiment as run_adammcmc
from l1forge.reference.csmala.run import SMALL as CS_SMALL, run_experiment as run_csmala
from l1forge.reference.cwola_streams.run import SMALL as CWOLA_SMALL, run_experiment as run_cwola
from l1forge.reference.pta_flows.run import SMALL as PTA_SMALL, evaluate as evaluate_pta, train as train_pta
from l1forge.reference.ranode.run import SMALL as RANODE_SMALL, run_experiment as run_ranode

RESULTS = Path(__file__).parent / "results"
# What the papers claim (their text and the authors' READMEs; the figures are plots, no numbers).
ADAMMCMC_CLAIMS = [
    "the prolate proposal samples efficiently at small sigma, where the isotropic one is never accepted",
    "the ensemble's uncertainty adapts with sigma; accuracy comparable to Adam at small sigma",
    "larger uncertainty on out-of-distribution jets (JetClass classes other than top/QCD)",
]
CSMALA_CLAIMS = [
    "naive stochastic MH samples a surrogate with a reduced effective sample size (wider credible sets)",
    "the corrected risk's posterior approaches the full-data Gibbs posterior as n grows",
    "credible balls of full MALA cover the truth (authors' notebook: 100 % at n = 10,000, radius 0.00142)",
]
PTA_CLAIMS = [
    "the flow's posteriors agree with MCMC's (Hellinger distance; the values are in the paper's figures)",
    "an MCMC posterior takes days to a week, the flow's seconds (100k samples in ~10.5 s per data set on "
    "the authors' code)",
]

# The paper's abstract (its figures could not be read here) and the authors' code (rd804/R-ANODE).
RANODE_CLAIMS = [
    "R-ANODE outperforms ANODE and the classifier-based weakly supervised methods at low signal fractions",
    "it works with w learned as well as fixed, and is robust to a misspecified w",
    "the authors' injections: 75-1000 signal events in 1M background, S/sqrt(B) 0.15-2.17 in the signal region",
]


def _machine() -> dict:
    import os
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def adammcmc(jets_per_class: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        jets = Path(tmp) / "jets.h5"
        generate_jets(jets_per_class, seed=11, out=jets, progress=False)
        results = run_adammcmc(jets, Path(tmp) / "run", ADAM_SMALL, seed=0)
        shutil.copy(Path(tmp) / "run" / "adammcmc.png", RESULTS / "adammcmc_reference.png")
    results.update({"paper_claims": ADAMMCMC_CLAIMS, "jets_per_class": jets_per_class,
                    "machine": _machine(),
                    "differences": "particle-flow network (2 cores) instead of ParticleNet; l1forge jets (pT 0.8-1.6 TeV, "
                                   "detector-level, 16 constituents) instead of TopLandscape; W/Z jets as the unseen "
                                   "classes instead of JetClass; chains of 2,000 steps instead of 235k; "
                                   "lambda = n instead of 1 on the mean loss"})
    (RESULTS / "adammcmc_reference.json").write_text(json.dumps(results, indent=1))


def csmala() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = run_csmala(Path(tmp), CS_SMALL, seed=0)
        shutil.copy(Path(tmp) / "csmala.png", RESULTS / "csmala_reference.png")
    results.update({"paper_claims": CSMALA_CLAIMS, "machine": _machine(),
                    "differences": "a 16-16 net instead of 100-100, n up to 1,000 instead of 10,000, 8,000-step chains "
                                   "instead of 1.1M, a N(0, 1) prior, zeta fixed per chain for 'centred'"})
    (RESULTS / "csmala_reference.json").write_text(json.dumps(results, indent=1))


def pta(run: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trained = None
        if run is None:
            run = Path(tmp) / "run"
            trained = train_pta(run, PTA_SMALL, seed=0)
        results = evaluate_pta(run, Path(tmp) / "eval", seed=1)
        shutil.copy(Path(tmp) / "eval" / "posteriors.png", RESULTS / "pta_flows_reference.png")
        trained = trained or json.loads((run / "run.json").read_text())
    results.update({"paper_claims": PTA_CLAIMS, "machine": _machine(), "training": trained,
                    "differences": "40 uniform TOAs per pulsar instead of the real 136-463 epochs, 10 frequencies, "
                                   "the 2 background parameters inferred (the paper: all 22), 1.2M fresh simulations "
                                   "instead of 90M simulation-epochs, small networks, chains of 150k steps (120k kept) "
                                   "from the truth"})
    (RESULTS / "pta_flows_reference.json").write_text(json.dumps(results, indent=1))


def ranode(n_background: int) -> None:
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        dijets = Path(tmp) / "dijets.h5"
        counts = {"background": n_background, "signal": n_background // 10, "sr_background": 2 * n_background // 5}
        generated = generate_dijets(counts, seed=0, out=dijets, progress=False)
        with h5py.File(dijets, "r") as f:
            coverage = sr_window_coverage(f["background"][:])
        results = run_ranode(dijets, Path(tmp) / "run", RANODE_SMALL, seed=0)
        shutil.copy(Path(tmp) / "run" / "sic.png", RESULTS / "ranode_reference.png")
    results.update({"paper_claims": RANODE_CLAIMS, "machine": _machine(), "events": counts,
                    "data_cached": generated["cached"],
                    "sr_background_window_coverage": coverage,
                    "differences": f"{n_background:,} Pythia 8 QCD events (pTHat > 1.1 TeV, leading R=1.0 jet above 1.2 "
                                   "TeV) through l1forge's parametric CMS-like detector instead of 1M Pythia + Delphes "
                                   "events; W' -> X Y made with Pythia's W' decaying to H0 (500 GeV) and H+ (100 GeV); "
                                   "the injections chosen by S/sqrt(B) (4 values from 0.5 to 4) since the signal "
                                   "region holds ~14x fewer background events; one split instead of 20 x 10 data "
                                   "sets; 100 instead of 200 background epochs, the background MAF fitted once; the "
                                   "signal-region mass density from the data, not from truth background"})
    (RESULTS / "ranode_reference.json").write_text(json.dumps(results, indent=1))


def cwola_streams() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = run_cwola(Path(tmp) / "run", CWOLA_SMALL, seed=0)
        shutil.copy(Path(tmp) / "run" / "purity.png", RESULTS / "cwola_streams_reference.png")
    results.update({"machine": _machine(),
                    "differences": "mock patches (a parametric smooth disk + halo, 300k stars, and a GD-1-like stream "
                                   "integrated with galpy in MWPotential2014) instead of Gaia DR2 patches with the "
                                   "labelled GD-1 stars (the paper's headline) or the authors' 100 mock streams; "
                                   "8 mocks; 64-unit networks, 3 folds, up to 40 epochs; top 100 instead of 250 "
                                   "(the mock patches hold fewer stars)"})
    (RESULTS / "cwola_streams_reference.json").write_text(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets-per-class", type=int, default=8000)
    parser.add_argument("--only", choices=("adammcmc", "csmala", "pta", "ranode", "cwola"), default=None)
    parser.add_argument("--pta-run", type=Path, default=None)
    parser.add_argument("--dijet-background", type=int, default=60000)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.only in (None, "adammcmc"):
        adammcmc(args.jets_per_class)
    if args.only in (None, "csmala"):
        csmala()
    if args.only in (None, "pta"):
        pta(args.pta_run)
    if args.only in (None, "ranode"):
        ranode(args.dijet_background)
    if args.only in (None, "cwola"):
        cwola_streams()


if __name__ == "__main__":
    main()
