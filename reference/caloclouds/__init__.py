"""CaloClouds (Buhmann et al., arXiv 2305.04847): calorimeter showers as point clouds from a DDPM
over points, conditioned on a latent of the whole shower (an EPiC encoder at training time, a
latent flow at sampling time), with CaloClouds II's ShowerFlow and point placement."""
from .model import CaloClouds, DDPMSchedule, EPiCEncoder, PointDenoiser
from .train import CONFIGS, PAPER, SMALL, generate_showers, load_run, train_run

__all__ = ["CONFIGS", "CaloClouds", "DDPMSchedule", "EPiCEncoder", "PAPER", "PointDenoiser", "SMALL",
           "generate_showers", "load_run", "train_run"]
