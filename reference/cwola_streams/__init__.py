"""Weakly supervised stellar-stream search (Pettee, Thanvantri, Nachman, Shih, Buckley, Collins,
arXiv 2305.03761): classification without labels (CWoLa) between a proper-motion signal region and
its sidebands in a Gaia patch, the stream stars standing out where the signal region is overdense;
here on mock patches with GD-1-like streams integrated with galpy."""
