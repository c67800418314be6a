"""DisCo-FFS (Das, Kasieczka, Shih, arXiv 2212.00046): feature selection for jet tagging by
distance correlation in the classifier's confusion window, over energy-flow polynomials."""
from .classifier import metrics, rejection, train_classifier
from .distance_correlation import CandidateScorer, distance_correlation
from .features import FeatureTable, feature_table
from .run import CONFIGS, PAPER, SMALL, run_experiment
from .selection import SelectionSettings, select_features, window_blocks

__all__ = ["CONFIGS", "CandidateScorer", "FeatureTable", "PAPER", "SMALL", "SelectionSettings", "distance_correlation",
           "feature_table", "metrics", "rejection", "run_experiment", "select_features", "train_classifier",
           "window_blocks"]
