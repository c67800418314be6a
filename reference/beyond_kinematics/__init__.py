"""Flow matching beyond kinematics (Birk, Buhmann, Ewen, Kasieczka, Shih, arXiv 2312.00123): the
conditional EPiC flow-matching jet generator extended from kinematics to particle identity, charge
and track impact parameters, on JetClass-like jets (`l1forge data jetclass`)."""
from .data import FEATURES, LabelledClouds, discretize, read_particle_jets
from .run import CONFIGS, PAPER, SMALL, evaluate, run_experiment

__all__ = ["CONFIGS", "FEATURES", "LabelledClouds", "PAPER", "SMALL", "discretize", "evaluate", "read_particle_jets",
           "run_experiment"]
