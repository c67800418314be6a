"""Quantized generators for firmware: the one-step CaloClouds II student and the iCaloFlow IAF
student's sampling pass."""
from .caloclouds import QuantCaloCloudsStudent, train_caloclouds_student
from .icaloflow import QuantIAFStudent, train_icaloflow_student
from .quantized import GeneratorSettings

__all__ = ["GeneratorSettings", "QuantCaloCloudsStudent", "QuantIAFStudent", "train_caloclouds_student",
           "train_icaloflow_student"]
