"""Full-precision iCaloFlow (Buckley, Krause, Pang, Shih, arXiv:2305.11934) on CaloChallenge
dataset-2 showers: teacher MAFs with rational-quadratic splines for the layer energies (Flow-1),
the first layer (Flow-2) and each next layer given the one before (Flow-3, one flow for all
layers), IAF students distilled from them that sample in one pass, layer-by-layer generation and
the paper's evaluation."""
from .evaluate import compare, observables
from .flows import AffineIAF, build_teacher, distillation_loss, teacher_to_noise
from .generate import generate_showers, student_sampler, teacher_sampler
from .train import PAPER, SMALL, ICaloFlowConfig, Run, train_run

__all__ = ["AffineIAF", "ICaloFlowConfig", "PAPER", "Run", "SMALL", "build_teacher", "compare", "distillation_loss",
           "generate_showers", "observables", "student_sampler", "teacher_sampler", "teacher_to_noise", "train_run"]
