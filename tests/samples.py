"""Shared test data: the public reference anchors (the seed paper's Vivado reports and trained
QKeras models), the paper's 4-bit deep set by QKeras' formulas in numpy, sample sizes."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PHYSICS_JETS_PER_CLASS = 400  # jets per class of the session's generated sample (conftest.jet_sample)


def anchors_dir() -> Path:
    """The public reference reports (../shared/anchors/l1-jet-id: the seed paper's Vivado HLS and
    Vivado synthesis reports and its trained models), unpacked once from tests/fixtures."""
    import shutil
    import tarfile
    import tempfile

    target = Path(tempfile.gettempdir()) / "l1forge-test-anchors"
    if not (target / "l1-jet-id" / "INDEX.md").is_file():
        partial = Path(tempfile.mkdtemp(prefix="l1forge-anchors-"))
        with tarfile.open(FIXTURES / "l1-jet-id-anchors.tar.xz") as tar:
            tar.extractall(partial, filter="data")
        shutil.rmtree(target, ignore_errors=True)  # a half-unpacked earlier attempt
        try:
            partial.rename(target)
        except OSError:  # another process unpacked it first
            shutil.rmtree(partial, ignore_errors=True)
    return target / "l1-jet-id"


def paper_model(bits: int):
    return anchors_dir() / f"deepsets_{bits}bit_8const_vu13p_5ns_hls2020.1" / "keras_model.h5"


def paper4_in_numpy(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The paper's 4-bit deep set by QKeras 0.9.0's formulas in float64 from the h5 weights, up to
    its last quantized layer (q_activation_4), and the float kernel and bias of its last Dense."""
    with h5py.File(paper_model(4), "r") as f:
        w = {n: [np.asarray(f["model_weights"][n][n][k], np.float64) for k in ("kernel:0", "bias:0")]
             for n in ("phi1", "phi2", "phi3", "rho", "dense")}

    def qbits(v, bits, integer):  # quantized_bits(bits, integer, alpha=1): tf.round is half to even
        m = 2.0 ** (bits - 1 - integer)
        return np.clip(np.round(v * m), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) / m

    def qrelu(v):  # quantized_relu() = quantized_relu(8, 0), the nested string's defaults
        return np.clip(np.round(v * 256), 0, 255) / 256

    def dense(h, n):
        return h @ qbits(w[n][0], 4, 0) + qbits(w[n][1], 4, 0)

    h = qrelu(dense(x, "phi1"))
    h = qrelu(dense(h, "phi2"))
    h = qbits(qrelu(dense(h, "phi3")), 12, 3).mean(axis=1)
    return qrelu(dense(h, "rho")), w["dense"]
