"""OmniJet-alpha (Birk, Hallin, Kasieczka, arXiv 2403.05618): a foundation model for jets. A VQ-VAE
turns each constituent (log pT, eta_rel, phi_rel) into one of K codebook tokens, a jet into a token
sequence; a GPT backbone learns next-token prediction on those sequences (generation by sampling
them); its representation then seeds a top-vs-QCD tagger (fine-tuned, frozen or trained from
scratch: the transfer-learning headline, accuracy against training-set size)."""
