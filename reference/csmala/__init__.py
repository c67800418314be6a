"""Corrected stochastic MALA (Bieringer, Kasieczka, Steffen, Trabs, "Statistical guarantees for
stochastic Metropolis-Hastings", arXiv:2310.09335) in full precision: MALA with a Metropolis-Hastings
test on Bernoulli mini-batches, naive and with the paper's corrected risk, on the paper's toy
regression; credible-ball coverage and diameter against n for full, naive and corrected MALA."""
from .credible import credible_ball
from .run import CONFIGS, PAPER, SMALL, CsMALAConfig, run_experiment
from .sampler import METHODS, StochasticMALA
from .toy import regression_net, toy_data, true_function

__all__ = ["CONFIGS", "CsMALAConfig", "METHODS", "PAPER", "SMALL", "StochasticMALA", "credible_ball",
           "regression_net", "run_experiment", "toy_data", "true_function"]
