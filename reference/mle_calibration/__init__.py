"""Calibration by maximum likelihood with conditional flows (Du, Krause, Mikuni, Nachman, Pang,
Shih, arXiv 2404.18992), against direct regression, on dataset-2-like showers."""
from .calibrate import build_flow, build_regression, log_likelihood, maximum_likelihood, mode
from .features import energy_condition, read_calibration_set, segment_features
from .run import CONFIGS, PAPER, PRIORS, SMALL, run_experiment, train_flow, train_regression

__all__ = ["CONFIGS", "PAPER", "PRIORS", "SMALL", "build_flow", "build_regression", "energy_condition",
           "log_likelihood", "maximum_likelihood", "mode", "read_calibration_set", "run_experiment",
           "segment_features", "train_flow", "train_regression"]
