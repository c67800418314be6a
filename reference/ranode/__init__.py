"""R-ANODE (Das, Kasieczka, Shih, arXiv 2312.11629): resonant anomaly detection by fitting a
normalising flow to the signal alone, p_data(m, x) = w p_sig(m, x) + (1 - w) p_bg(x | m) p_bg(m),
with the background density learned on the sidebands and frozen; against ANODE (a flow on the
signal-region data, R = p_data / p_bg), an idealised anomaly detector (a classifier of signal-region
data against a perfect background sample) and a supervised classifier, on LHC-Olympics-like dijets
from `l1forge data dijets`."""
