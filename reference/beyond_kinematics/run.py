"""The conditional EPiC flow-matching model of "flow matching beyond kinematics" on JetClass-like
l1forge jets: one model for every class, conditioned on the class, jet pT and eta, trained on 70 %
of the jets; then as many jets generated as the test split holds, with the test jets' classes,
conditions and multiplicities (the authors sample the multiplicity from a per-class density
instead), post-processed as the authors (identity by argmax, charge rounded, pT_rel clipped).

Scored per class as the authors' evaluation (scripts/eval_ckpt.py): KL divergences of every
particle feature (on the real sample's quantile bins; the charge and the identity as categories),
of the d0 and dz significances (value over error) of charged particles and of the jet mass, tau21
and tau32 (jets of at least 3 particles, as the authors); and
over all classes a classifier two-sample AUC (real vs generated, the authors use ParT; here a small
network on the leading 16 particles and the mass). The same metrics between the training and test
jets are the "truth" row: what they read for two samples of one distribution. Also the share of
generated particles whose charge agrees with their identity (1 for real particles)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..epic_jedi_fm.data import Clouds, Scaler
from ..epic_jedi_fm.run import EPiCConfig, generate, train_model
from ..files import DataError, json_text, output_folder
from ..jetnet_metrics import quantiled_kl, relative_mass
from ..substructure import tau_ratios
from ..two_sample import classifier_auc
from .data import (CHARGE, D0, DZ, FEATURES, PID, LabelledClouds, discretize, from_flow_space, read_particle_jets,
                   to_flow_space)

CONTINUOUS = FEATURES[:7]
PID_COLUMNS = slice(FEATURES.index(PID[0]), FEATURES.index(PID[-1]) + 1)
AUC_PARTICLES = 16



@dataclass(frozen=True)
class BeyondConfig:
    flow: EPiCConfig
    transform: str  # data.TRANSFORMS: the features as the authors feed them, or 'log'

    def to_dict(self) -> dict:
        return asdict(self)


# The authors' configuration (jetclass_cond.yaml, particle_fm's flow_matching.yaml): 20 EPiC layers
# of 300 hidden units, global latent 16, 128 particles, 500 epochs of batches of 1024, AdamW lr 1e-3
# (weight decay 5e-5), cosine schedule after 20 warm-up epochs (of 3M jets: 58,600 steps), EMA
# 0.999, gradient clip 0.5, midpoint rule with 100 steps; the features standardised as they are.
# `classes` is unused: all in the file.
PAPER = BeyondConfig(EPiCConfig(n_particles=128, classes=(), hidden=300, latent=16, layers=20, epochs=500,
                                batch_size=1024, lr=1e-3, weight_decay=5e-5, warmup_steps=58_600, ema=0.999,
                                grad_clip=0.5, fm_steps=100, jedi_steps=0, metric_batch=0, metric_batches=0), "authors")
# Minutes on 2 cores: the leading 64 particles, hidden 64, 3 layers, 150 epochs of 256, 50 steps;
# log pT_rel and arcsinh impact parameters (data.to_flow_space), which a short training resolves.
SMALL = BeyondConfig(replace(PAPER.flow, n_particles=64, hidden=64, latent=10, layers=3, epochs=150, batch_size=256,
                             warmup_steps=100, fm_steps=50), "log")
CONFIGS = {"paper": PAPER, "small": SMALL}


def categorical_kl(real: np.ndarray, generated: np.ndarray, categories) -> float:
    """KL(real || generated) of the shares of each category, with 1e-8 added to every share."""
    p = np.array([np.mean(real == c) for c in categories]) + 1e-8
    q = np.array([np.mean(generated == c) for c in categories]) + 1e-8
    return float(np.sum(p / p.sum() * np.log((p / p.sum()) / (q / q.sum()))))


def significances(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d0 / sigma(d0) and dz / sigma(dz) of the charged particles among rows x (k, 13)."""
    charged = x[x[:, CHARGE] != 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return charged[:, D0] / charged[:, D0 + 1], charged[:, DZ] / charged[:, DZ + 1]


def identity(x: np.ndarray) -> np.ndarray:
    return np.argmax(x[:, PID_COLUMNS], 1)


def charge_agrees(x: np.ndarray) -> float:
    """The share of particles (rows) whose charge is non-zero exactly when their identity is a
    charged one (charged hadron, electron, muon)."""
    charged_identity = np.isin(identity(x), [PID.index(p) for p in ("charged_hadron", "electron", "muon")])
    return float(np.mean((x[:, CHARGE] != 0) == charged_identity))


def particle_kls(real: Clouds, generated: Clouds, jet_pt_real: np.ndarray, jet_pt_generated: np.ndarray) -> dict:
    r, g = real.particles[real.mask], generated.particles[generated.mask]
    out = {name: quantiled_kl(r[:, k], g[:, k]) for k, name in enumerate(CONTINUOUS)}
    out["charge"] = categorical_kl(r[:, CHARGE], g[:, CHARGE], (-1, 0, 1))
    out["identity"] = categorical_kl(identity(r), identity(g), range(len(PID)))
    for name, a, b in zip(("d0_significance", "dz_significance"), significances(r), significances(g)):
        out[name] = quantiled_kl(a, b[np.isfinite(b)])
    out["mass"] = quantiled_kl(relative_mass(real.particles, real.mask) * jet_pt_real,
                               relative_mass(generated.particles, generated.mask) * jet_pt_generated)
    taus = [tau_ratios(c.particles, c.mask) for c in (real, generated)]
    for key in ("tau21", "tau32"):
        a, b = taus[0][key], taus[1][key]
        out[key] = quantiled_kl(a[np.isfinite(a)], b[np.isfinite(b)])
    return out


def _auc_features(clouds: Clouds) -> np.ndarray:
    """The leading AUC_PARTICLES particles by pT_rel (13 features each, zeros past the last) and
    the relative mass."""
    order = np.argsort(-clouds.particles[..., 2] * clouds.mask, 1, kind="stable")[:, :AUC_PARTICLES]
    lead = np.take_along_axis(clouds.particles, order[..., None], 1)
    return np.column_stack([lead.reshape(len(lead), -1), relative_mass(clouds.particles, clouds.mask)])


def evaluate(real: LabelledClouds, generated: LabelledClouds, seed: int) -> dict:
    per_class = {}
    pt_col = len(real.classes)
    for k, name in enumerate(real.classes):
        a, b = real.select(real.label == k), generated.select(generated.label == k)
        if len(a) and len(b):
            per_class[name] = particle_kls(a.clouds, b.clouds, a.clouds.jet[:, pt_col], b.clouds.jet[:, pt_col])
    mean = {key: float(np.mean([v[key] for v in per_class.values()])) for key in next(iter(per_class.values()))}
    return {"kl_per_class": per_class, "kl_mean_over_classes": mean,
            "classifier_auc": classifier_auc(_auc_features(real.clouds), _auc_features(generated.clouds), seed),
            "charge_agrees_with_identity": charge_agrees(generated.clouds.particles[generated.clouds.mask])}


def train(train: LabelledClouds, config: BeyondConfig, seed: int, progress=lambda _: None):
    """The trained flow (EMA weights), its scaler, the loss per epoch and the seconds."""
    clouds = train.clouds
    flow_clouds = Clouds(to_flow_space(clouds.particles, clouds.mask, config.transform), clouds.mask, clouds.jet)
    scaler = Scaler.fit(flow_clouds, clip_pt_rel=config.transform == "authors")
    model, curve, seconds = train_model("fm", flow_clouds, scaler, config.flow, seed, progress)
    return model, scaler, curve, seconds


def sample(model, scaler: Scaler, like: LabelledClouds, config: BeyondConfig, pt_rel_range: tuple[float, float],
           seed: int) -> tuple[LabelledClouds, float]:
    """Jets with the classes, conditions and multiplicities of `like`, post-processed as the
    authors'; and the seconds per jet."""
    mask = like.clouds.mask
    x, per_jet = generate(model, "fm", mask, like.clouds.jet, scaler, config.flow, seed)
    x = discretize(from_flow_space(x, mask, config.transform), mask, pt_rel_range)
    return LabelledClouds(Clouds(x, mask, like.clouds.jet), like.label, like.classes), per_jet


def run_experiment(data: str | Path, out: str | Path, config: BeyondConfig = SMALL, seed: int = 0,
                   limit: int | None = None, progress=print) -> dict:
    """Train, generate, evaluate; write OUT/results.json, OUT/beyond_kinematics.png and OUT/model.pt."""
    import torch

    jets = read_particle_jets(data, config.flow.n_particles, limit)
    present = np.unique(jets.label)
    if len(jets) < 100:
        raise DataError(f"{data}: {len(jets)} jets; the flow needs at least 100 (70 % train, 30 % test)")
    order = np.random.default_rng(seed).permutation(len(jets))
    n_test = int(len(order) * 0.3)
    train_jets, test = jets.select(np.sort(order[n_test:])), jets.select(np.sort(order[:n_test]))
    model, scaler, curve, seconds = train(train_jets, config, seed, progress)
    real_pt_rel = train_jets.clouds.particles[train_jets.clouds.mask][:, 2]
    generated, per_jet = sample(model, scaler, test, config, (float(real_pt_rel.min()), float(real_pt_rel.max())),
                                seed + 1)
    results = {"config": config.to_dict(), "seed": seed, "data": str(data), "features": list(FEATURES),
               "classes": [test.classes[k] for k in present], "jets": {"train": len(train_jets), "test": len(test)},
               "train_seconds": seconds, "seconds_per_jet": per_jet, "loss_curve": curve,
               "generated": evaluate(test, generated, seed), "truth (train vs test)": evaluate(test, train_jets, seed)}
    progress(f"classifier AUC real vs generated {results['generated']['classifier_auc']:.3f} (train vs test "
             f"{results['truth (train vs test)']['classifier_auc']:.3f}); {per_jet * 1e3:.2f} ms per jet")
    with output_folder(out) as folder:
        torch.save({"state_dict": model.network.state_dict(), "scaler": scaler.to_dict(), "config": config.to_dict(),
                    "classes": list(jets.classes)}, folder / "model.pt")
        plot(test, generated, folder / "beyond_kinematics.png")
        (folder / "results.json").write_text(json_text(results))
    return results


def plot(real: LabelledClouds, generated: LabelledClouds, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r, g = real.clouds.particles[real.clouds.mask], generated.clouds.particles[generated.clouds.mask]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    panels = [("pt_rel", r[:, 2], g[:, 2], np.geomspace(1e-4, 1, 40), "log"),
              ("d0 / sigma (charged)", significances(r)[0], significances(g)[0], np.linspace(-20, 20, 41), "linear"),
              ("dz / sigma (charged)", significances(r)[1], significances(g)[1], np.linspace(-20, 20, 41), "linear"),
              ("eta_rel", r[:, 0], g[:, 0], np.linspace(-1, 1, 41), "linear")]
    for ax, (name, a, b, bins, scale) in zip(axes.flat, panels):
        ax.hist(a, bins, histtype="stepfilled", alpha=0.3, density=True, label="real (test)")
        ax.hist(b[np.isfinite(b)], bins, histtype="step", density=True, label="generated")
        ax.set_xscale(scale)
        ax.set_yscale("log")
        ax.set_xlabel(name)
    axes.flat[0].legend()
    ax = axes.flat[4]
    width = 0.4
    shares = [np.bincount(identity(x), minlength=len(PID)) / len(x) for x in (r, g)]
    ax.bar(np.arange(len(PID)) - width / 2, shares[0], width, label="real (test)")
    ax.bar(np.arange(len(PID)) + width / 2, shares[1], width, label="generated")
    ax.set_xticks(range(len(PID)), [p.replace("_", " ") for p in PID], rotation=20)
    ax.set_ylabel("share of particles")
    ax = axes.flat[5]
    pt_col = len(real.classes)
    for k, name in enumerate(real.classes):
        for jets, style in ((real, "-"), (generated, "--")):
            clouds, rows = jets.clouds, jets.label == k
            if rows.any():
                mass = relative_mass(clouds.particles[rows], clouds.mask[rows]) * clouds.jet[rows, pt_col]
                ax.hist(mass, np.linspace(0, 300, 31), histtype="step", linestyle=style, density=True,
                        color=f"C{k}", label=name if style == "-" else None)
    ax.set_xlabel("jet mass [GeV] (solid: real, dashed: generated)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
