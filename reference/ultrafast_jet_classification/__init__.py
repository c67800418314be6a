"""Full-precision baselines of "Sets are all you need: Ultrafast jet classification on FPGAs for
HL-LHC" (Odagiu et al., arXiv:2402.01876): deep sets and MLP taggers on N constituents."""
from .models import DeepSetTagger, MLPTagger, PAPER_DEEPSET, PAPER_MLP

__all__ = ["DeepSetTagger", "MLPTagger", "PAPER_DEEPSET", "PAPER_MLP"]
