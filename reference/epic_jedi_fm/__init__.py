"""EPiC-FM and EPiC-JeDi (Buhmann, Ewen, Faroughy et al., arXiv 2310.00049): particle-cloud jet
generation with flow matching and with diffusion on one EPiC network, scored with the JetNet
metrics."""
from .data import Clouds, Scaler, read_clouds
from .generative import Diffusion, FlowMatching
from .network import EPiCNetwork
from .run import CONFIGS, PAPER, SMALL, run_experiment

__all__ = ["CONFIGS", "Clouds", "Diffusion", "EPiCNetwork", "FlowMatching", "PAPER", "SMALL", "Scaler", "read_clouds",
           "run_experiment"]
