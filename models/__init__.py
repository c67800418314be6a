"""The quantized model zoo, its training and its data (jets)."""
import warnings

# brevitas warns on import that an optional CUDA kernel package is missing; it is not used here.
warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
