"""The public hls4ml LHC jet dataset's HDF5 layout (Zenodo 10.5281/zenodo.3602260, 150 particles).

Generated files use exactly this layout so that the public files drop in unchanged.
"""

CLASSES = ("gluon", "quark", "W", "Z", "top")
N_SLOTS = 150

CONSTITUENTS_KEY = "jetConstituentList"  # (jets, 150, 16), pT-ordered, zero-padded
JETS_KEY = "jets"  # (jets, 59): 53 observables + 5 one-hot labels + j_undef
PARTICLE_NAMES_KEY = "particleFeatureNames"  # 17 names, the last (pdgid) has no data column
JET_NAMES_KEY = "jetFeatureNames"

PARTICLE_FEATURES = (
    "j1_px", "j1_py", "j1_pz", "j1_e", "j1_erel", "j1_pt", "j1_ptrel", "j1_eta", "j1_etarel",
    "j1_etarot", "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel",
)
PARTICLE_FEATURE_NAMES = PARTICLE_FEATURES + ("j1_pdgid",)
P = {name[3:]: i for i, name in enumerate(PARTICLE_FEATURES)}  # short name -> column, e.g. P["pt"] == 5

JET_FEATURES = (
    "j_ptfrac", "j_pt", "j_eta", "j_mass", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_tau1_b2",
    "j_tau2_b2", "j_tau3_b2", "j_tau32_b1", "j_tau32_b2", "j_zlogz", "j_c1_b0", "j_c1_b1",
    "j_c1_b2", "j_c2_b1", "j_c2_b2", "j_d2_b1", "j_d2_b2", "j_d2_a1_b1", "j_d2_a1_b2", "j_m2_b1",
    "j_m2_b2", "j_n2_b1", "j_n2_b2", "j_tau1_b1_mmdt", "j_tau2_b1_mmdt", "j_tau3_b1_mmdt",
    "j_tau1_b2_mmdt", "j_tau2_b2_mmdt", "j_tau3_b2_mmdt", "j_tau32_b1_mmdt", "j_tau32_b2_mmdt",
    "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
    "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",
    "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_trim", "j_mass_mmdt", "j_mass_prun",
    "j_mass_sdb2", "j_mass_sdm1", "j_multiplicity", "j_g", "j_q", "j_w", "j_z", "j_t", "j_undef",
)
J = {name: i for i, name in enumerate(JET_FEATURES)}
LABEL_COLUMNS = slice(J["j_g"], J["j_t"] + 1)  # one-hot (g, q, W, Z, t) == jets[:, -6:-1]
