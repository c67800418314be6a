"""ConvL2LFlows (Buss, Gaede, Kasieczka, Krause, Shih, arXiv 2405.20407): calorimeter showers of
CaloChallenge dataset 3 (45 layers of 50 angular x 18 radial voxels) generated layer by layer. An
energy flow (a MADE-spline MAF) draws the 45 layer energies given the incident energy; then one
convolutional flow per layer draws that layer's voxels as an image (squeeze, then blocks of
actnorm, a rational-quadratic coupling whose parameters a small U-Net with cyclic padding in the
angle computes, and an invertible 1x1 convolution), conditioned on the 5 layers before it, the
layer's energy and the incident energy."""
