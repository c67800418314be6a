"""Full-precision baselines of "Sets are all you need: Ultrafast jet classification on FPGAs for
HL-LHC" (Odagiu et al., arXiv:2402.01876): deep sets, interaction network and MLP
taggers on N constituents."""
from .models import PAPER_DEEPSET, PAPER_INTNET, PAPER_MLP, DeepSetTagger, InteractionNetTagger, MLPTagger

__all__ = ["DeepSetTagger", "InteractionNetTagger", "MLPTagger", "PAPER_DEEPSET", "PAPER_INTNET", "PAPER_MLP"]
