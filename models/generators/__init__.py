"""Quantized generators: the one-step CaloClouds II student for firmware."""
from .caloclouds import GeneratorSettings, QuantCaloCloudsStudent, train_caloclouds_student

__all__ = ["GeneratorSettings", "QuantCaloCloudsStudent", "train_caloclouds_student"]
