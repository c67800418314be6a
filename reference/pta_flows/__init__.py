"""Pulsar-timing-array inference of a gravitational-wave background with normalizing flows (Shih,
Freytsis, Taylor, Dror, Smyth, arXiv:2310.12209) in full precision: a minimal PTA simulator written
here (ten pulsars, timing-model projection, white noise, per-pulsar red noise and a
Hellings-Downs-correlated background as Fourier series), a conditional spline flow with per-pulsar
LSTM embeddings trained on simulations, and the paper's comparison with exact-likelihood MCMC
(Hellinger distance, time per posterior)."""
from .array import PulsarArray, build_array, hellings_downs
from .flow import PosteriorFlow
from .model import Likelihood, draw_prior, prior_bounds, simulate
from .run import CONFIGS, PAPER, SMALL, PTAConfig, evaluate, hellinger, load_run, train
from .sampler import adaptive_metropolis

__all__ = ["CONFIGS", "Likelihood", "PAPER", "PTAConfig", "PosteriorFlow", "PulsarArray", "SMALL",
           "adaptive_metropolis", "build_array", "draw_prior", "evaluate", "hellinger", "hellings_downs", "load_run",
           "prior_bounds", "simulate", "train"]
