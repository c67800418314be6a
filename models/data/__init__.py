from .jets import generate_jets
