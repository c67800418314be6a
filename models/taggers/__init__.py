"""Quantization-aware (Brevitas) jet taggers: deep sets, interaction network and MLP."""
from .quantized import QuantDeepSetTagger, QuantInteractionNetTagger, QuantMLPTagger, TaggerConfig, build_tagger, \
    float_twin

__all__ = ["QuantDeepSetTagger", "QuantInteractionNetTagger", "QuantMLPTagger", "TaggerConfig", "build_tagger",
           "float_twin"]
