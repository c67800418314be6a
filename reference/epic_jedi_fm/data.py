"""JetNet-like particle clouds from an l1forge jet file: the leading n particles of one jet class
as (eta_rel, phi_rel, pT_rel) with their mask, and the jet's pT and mass as conditions; the
authors' scaling (each feature shifted by its mean over real particles and divided by a fifth of
its standard deviation: standard deviation 5; the conditions likewise)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..files import DataError
from ..jet_data import CLASSES, read_jets

SCALED_STD = 5.0
JET_CONDITIONS = ("j_pt", "j_mass")


@dataclass
class Clouds:
    particles: np.ndarray   # (jets, n, features) float32: eta_rel, phi_rel, pT_rel(, ...); zero past the last particle
    mask: np.ndarray        # (jets, n) bool
    jet: np.ndarray         # (jets, conditions) float64: here jet pT and mass [GeV]

    def __len__(self) -> int:
        return len(self.mask)

    def select(self, rows) -> "Clouds":
        return Clouds(self.particles[rows], self.mask[rows], self.jet[rows])


def read_clouds(path, jet_class: str, n_particles: int, limit: int | None = None) -> Clouds:
    """The clouds of one class ('t', 'g', ...) of a jet file."""
    if jet_class not in CLASSES:
        raise DataError(f"unknown jet class {jet_class!r}; choose one of {', '.join(CLASSES)}")
    jets = read_jets(path, n_particles, limit, jet_columns=JET_CONDITIONS).of_classes((jet_class,))
    if len(jets) < 20:
        raise DataError(f"{path}: needs at least 20 {jet_class} jets, found {len(jets)}")
    return Clouds(jets.constituents[..., [1, 2, 0]], jets.mask, jets.jet)


@dataclass
class Scaler:
    mean: np.ndarray
    std: np.ndarray
    jet_mean: np.ndarray
    jet_std: np.ndarray
    clip_pt_rel: bool = True  # False where the third feature is not pT_rel itself (e.g. its logarithm)

    @classmethod
    def fit(cls, clouds: Clouds, clip_pt_rel: bool = True) -> "Scaler":
        real = clouds.particles[clouds.mask].astype(np.float64)
        return cls(real.mean(0), np.maximum(real.std(0), 1e-9), clouds.jet.mean(0), np.maximum(clouds.jet.std(0), 1e-9),
                   clip_pt_rel)

    def particles(self, clouds: Clouds) -> np.ndarray:
        return ((clouds.particles - self.mean) / self.std * SCALED_STD * clouds.mask[..., None]).astype(np.float32)

    def jet(self, jet: np.ndarray) -> np.ndarray:
        return ((jet - self.jet_mean) / self.jet_std * SCALED_STD).astype(np.float32)

    def unscale(self, scaled: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Back to (eta_rel, phi_rel, pT_rel, ...); pT_rel clipped at 0 (a generated particle cannot have
        negative pT); padding stays zero."""
        x = scaled / SCALED_STD * self.std + self.mean
        if self.clip_pt_rel:
            x[..., 2] = np.maximum(x[..., 2], 0.0)
        return (x * mask[..., None]).astype(np.float32)

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k).tolist() for k in ("mean", "std", "jet_mean", "jet_std")},
                "clip_pt_rel": self.clip_pt_rel}
