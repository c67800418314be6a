"""AdamMCMC (Bieringer, Kasieczka, Steffen, Trabs, arXiv:2312.14027) in full precision: Metropolis-
Hastings with Adam-step proposals and the prolate proposal covariance, applied to a top-vs-QCD jet
tagger on l1forge jets; acceptance, accuracy against Adam and the ensemble's uncertainty against the
noise scale and on jets of classes the tagger never saw."""
from .metrics import binary_entropy, ensemble_metrics
from .model import ParticleFlowTagger
from .run import CONFIGS, PAPER, SMALL, AdamMCMCConfig, run_experiment
from .sampler import AdamMCMC

__all__ = ["AdamMCMC", "AdamMCMCConfig", "CONFIGS", "PAPER", "ParticleFlowTagger", "SMALL", "binary_entropy",
           "ensemble_metrics", "run_experiment"]
