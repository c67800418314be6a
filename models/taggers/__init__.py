"""Quantization-aware (Brevitas) jet taggers: deep sets and MLP (interaction network later)."""
from .quantized import QuantDeepSetTagger, QuantMLPTagger, TaggerConfig, build_tagger, float_twin

__all__ = ["QuantDeepSetTagger", "QuantMLPTagger", "TaggerConfig", "build_tagger", "float_twin"]
