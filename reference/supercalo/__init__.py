"""SuperCalo (Pang, Raine, Shih, arXiv 2308.11700): calorimeter shower super-resolution. A
conditional flow upsamples each coarse voxel (5 layers x 2 angular bins x 1 radial bin of
CaloChallenge dataset 2) into its 10 fine voxels, given the incident energy, the 5 fine layer
energies, the coarse voxel's energy, its 6 neighbours and its position; a coarse generator (Flow-1:
the 45 layer energies, Flow-2: the 648 coarse voxels) gives it coarse showers to start from."""
