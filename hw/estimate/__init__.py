"""Estimation without vendor tools: the estimators (estimators) and their references from the seed
paper's Vivado reports (calibration)."""
from .estimators import LayerShape, estimate_hls4ml, estimate_noise_source, estimate_rtl

__all__ = ["LayerShape", "estimate_hls4ml", "estimate_noise_source", "estimate_rtl"]
