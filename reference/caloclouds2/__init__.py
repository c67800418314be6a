"""Full-precision CaloClouds II (Buhmann et al., arXiv:2309.05704): ShowerFlow, an EDM-trained
per-point diffusion model (PointWiseNet of ConcatSquashLinear layers) sampled with Heun's method,
and its consistency-distilled one-step student, on point-cloud showers in the CaloClouds layout."""
from .edm import Denoiser, EDMSettings, sample_heun, sample_one_step
from .generate import generate_showers
from .networks import ConcatSquashLinear, PointWiseNet
from .train import PAPER, SMALL, CaloClouds2Config, load_run, train_run

__all__ = ["CaloClouds2Config", "ConcatSquashLinear", "Denoiser", "EDMSettings", "PAPER", "PointWiseNet", "SMALL",
           "generate_showers", "load_run", "sample_heun", "sample_one_step", "train_run"]
