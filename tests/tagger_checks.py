"""Shared check of a zoo tagger: brief training, export, compile, bit-exact against the emulator,
QONNX and Brevitas itself."""
import numpy as np
import torch

from l1forge.compiler.ir import load_model
from l1forge.compiler.ir.emulator import emulate
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model
from l1forge.models.data.loader import load_jets
from l1forge.models.taggers import TaggerConfig, build_tagger
from l1forge.models.train import export_qonnx_model, predict


def quick_fit(model, x, steps=30, seed=0):
    """A few optimizer steps so weights and learned scales move off their initial values."""
    torch.manual_seed(seed)
    y = torch.randint(0, 5, (len(x),))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    xt = torch.from_numpy(x)
    for i in range(steps):
        idx = torch.randint(0, len(x), (256,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    return model


def check_tagger(cfg: TaggerConfig, jets_file, tmp_path) -> dict:
    """Train briefly on >= 10,000 jets, export, compile with verification on those jets plus 2,000
    grid inputs; assert bit-exactness everywhere and equality with Brevitas' forward pass."""
    data = load_jets(jets_file, n_constituents=cfg.n_constituents, features="16" if cfg.n_features == 16 else "3",
                     fractions=(1.0, 0.0, 0.0))
    x = data.train.x
    assert len(x) >= 10_000
    model = quick_fit(build_tagger(cfg), x)
    onnx_path = export_qonnx_model(model, cfg, tmp_path / "model.onnx")
    report = compile_model(onnx_path, tmp_path / "fw", data=x, labels=data.train.y, n_random=2000,
                           log=lambda m: None)
    v = report["verification"]
    assert v["status"] == "bit-exact", v
    assert v["mismatches"] == {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}
    assert v["data_samples"] == len(x) and v["random_samples"] == 2000
    exact = emulate(canonicalize(load_model(onnx_path)), x).reshape(len(x), -1)
    np.testing.assert_array_equal(exact, predict(model, x).astype(np.float64))  # Brevitas itself
    return report


SMALL_TAGGERS = {  # small quantized taggers of every family, for quick end-to-end compiles
    "deepset mean 4 bit": TaggerConfig(model="deepsets", pool="mean", phi=(8, 8), rho=(8,), w_bits=4, a_bits=4),
    "deepset max 6 bit, 16 features": TaggerConfig(model="deepsets", pool="max", n_features=16, phi=(8,), rho=(8,),
                                                   w_bits=6, a_bits=6),
    "mlp 6 bit": TaggerConfig(model="mlp", widths=(16, 8), w_bits=6, a_bits=6),
    "interaction network N=8": TaggerConfig(model="intnet", effects=(6, 4), objects=(8, 4), classifier=(16,),
                                            w_bits=6, a_bits=6),
}


def trained_tagger(cfg, tmp_path):
    """A small tagger briefly fitted on random inputs, exported to tmp_path/model.onnx: (path, inputs)."""
    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(0, 1.5, (2000, cfg.n_constituents, cfg.n_features)).astype(np.float32)
    return export_qonnx_model(quick_fit(build_tagger(cfg), x), cfg, tmp_path / "model.onnx"), x
