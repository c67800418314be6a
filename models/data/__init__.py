"""Jet data: generation (Pythia 8 + FastJet), the public HDF5 layout, loading."""
from .jets import generate_jets
from .loader import load_jets

__all__ = ["generate_jets", "load_jets"]
