"""A parametric electromagnetic shower in a sampling calorimeter (Grindhammer-Peters / GFlash).

Each shower is a set of energy spots (depth t in radiation lengths, transverse x, y in mm,
deposited energy in GeV) drawn from:
- a longitudinal gamma profile dE/dt ~ (beta t)^(alpha-1) exp(-beta t) whose maximum T and shape
  alpha fluctuate per shower (log-normal, correlated): Grindhammer & Peters, hep-ex/0001020, with
  the sampling-calorimeter corrections of the same paper (constants as in Geant4's GFlash tuning
  headers GVFlashHomoShowerTuning.hh / GFlashSamplingShowerTuning.hh);
- a radial profile with a core and a tail, f(r) = p 2r Rc^2/(r^2+Rc^2)^2 + (1-p) 2r Rt^2/(r^2+Rt^2)^2
  (r in Moliere radii), whose widths Rc, Rt and core weight p depend on the depth tau = t/T;
- photons first convert after an exponential depth of mean 9/7 X0, then shower like an electron;
- sampling fluctuations: the number of spots is Poisson with mean E/e0 and spot energies are
  gamma-distributed with shape SPOT_SHAPE, so that the deposited energy fluctuates by
  a/sqrt(E): e0 = a^2 / (1 + 1/SPOT_SHAPE). Hit multiplicities follow the spot count.
The sampling-fluctuation widths of ln T and ln alpha are the paper's sampling values (Geant4's
GFlash constructor reads the homogeneous ones by mistake; we use the published ones).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

E_S = 21.2052  # MeV, the scale energy of the Moliere radius (PDG)
PHOTON_CONVERSION_X0 = 9.0 / 7.0  # mean depth of a photon's conversion, radiation lengths
SPOT_SHAPE = 2.0  # gamma shape of the spot energies: relative spread 1/sqrt(2)
PARTICLES = {"electron": 11, "photon": 22}


@dataclass(frozen=True)
class Material:
    """Constants from the PDG's atomic and nuclear properties tables."""
    name: str
    z: float
    a: float  # g/mol
    density: float  # g/cm^3
    x0: float  # radiation length, g/cm^2
    critical_energy: float  # MeV (Rossi's definition, electrons)
    dedx_min: float  # minimum ionisation, MeV cm^2/g

    @property
    def x0_mm(self) -> float:
        return 10.0 * self.x0 / self.density


TUNGSTEN = Material("W", 74, 183.84, 19.30, 6.76, 7.97, 1.145)
SILICON = Material("Si", 14, 28.0855, 2.329, 21.82, 40.19, 1.664)


@dataclass(frozen=True)
class Layer:
    """One readout layer: absorber then active material, thicknesses in mm."""
    absorber_mm: float
    active_mm: float
    absorber: Material = TUNGSTEN
    active: Material = SILICON

    @property
    def thickness_mm(self) -> float:
        return self.absorber_mm + self.active_mm

    def _mass_weights(self) -> tuple[float, float]:
        m1, m2 = self.absorber_mm * self.absorber.density, self.active_mm * self.active.density
        return m1 / (m1 + m2), m2 / (m1 + m2)

    @property
    def x0_mm(self) -> float:
        """Effective radiation length of the absorber + active pair, mm."""
        return self.thickness_mm / self.depth_x0

    @property
    def depth_x0(self) -> float:
        return self.absorber_mm / self.absorber.x0_mm + self.active_mm / self.active.x0_mm

    @property
    def z_eff(self) -> float:
        w1, w2 = self._mass_weights()
        return w1 * self.absorber.z + w2 * self.active.z

    @property
    def _loss_per_x0(self) -> float:
        """Mass-weighted ionisation loss per g/cm^2 (each material's E_c / X0), MeV cm^2/g."""
        w1, w2 = self._mass_weights()
        return w1 * self.absorber.critical_energy / self.absorber.x0 + w2 * self.active.critical_energy / self.active.x0

    @property
    def critical_energy(self) -> float:
        """Effective critical energy (MeV): X0_eff times the mass-weighted ionisation loss per g/cm^2."""
        w1, w2 = self._mass_weights()
        x0 = 1.0 / (w1 / self.absorber.x0 + w2 / self.active.x0)
        return x0 * self._loss_per_x0

    @property
    def moliere_mm(self) -> float:
        """Effective Moliere radius, mm (E_s / mass-weighted loss per g/cm^2, over the mean density)."""
        mean_density = (self.absorber_mm * self.absorber.density + self.active_mm * self.active.density) / self.thickness_mm
        return 10.0 * E_S / self._loss_per_x0 / mean_density

    @property
    def sampling_fraction_mip(self) -> float:
        """Fraction of a minimum-ionising particle's energy loss that lands in the active layer."""
        a = self.absorber_mm * self.absorber.density * self.absorber.dedx_min
        s = self.active_mm * self.active.density * self.active.dedx_min
        return s / (a + s)

    @property
    def sampling_frequency(self) -> float:
        """GFlash's F_s = X0_eff / (d_absorber + d_active)."""
        return self.x0_mm / self.thickness_mm

    @property
    def e_hat(self) -> float:
        """GFlash's e_hat = 1 / (1 + 0.007 (Z_absorber - Z_active))."""
        return 1.0 / (1.0 + 0.007 * (self.absorber.z - self.active.z))


@dataclass(frozen=True)
class Medium:
    """The calorimeter as the shower parametrisation sees it (from its dominant layer type)."""
    z: float
    critical_energy: float  # MeV
    fs: float
    e_hat: float

    @classmethod
    def of(cls, layer: Layer) -> "Medium":
        return cls(layer.z_eff, layer.critical_energy, layer.sampling_frequency, layer.e_hat)


def longitudinal_parameters(energy_gev: np.ndarray, medium: Medium, rng: np.random.Generator):
    """Per-shower (T, alpha) of the gamma profile, with correlated log-normal fluctuations."""
    ln_y = np.log(energy_gev * 1000.0 / medium.critical_energy)
    t_hom = -0.812 + ln_y
    alpha_hom = 0.81 + (0.458 + 2.26 / medium.z) * ln_y
    mean_ln_t = np.log(np.maximum(t_hom - 0.55 / medium.fs - 0.69 * (1 - medium.e_hat), 0.1))
    mean_ln_alpha = np.log(np.maximum(alpha_hom - 0.476 / medium.fs, 0.1))
    sigma_t = np.minimum(0.5, 1.0 / (-2.5 + 1.25 * ln_y))
    sigma_alpha = np.minimum(0.5, 1.0 / (-0.82 + 0.79 * ln_y))
    rho = 0.784 - 0.023 * ln_y
    z1, z2 = rng.standard_normal((2, len(energy_gev)))
    plus, minus = np.sqrt((1 + rho) / 2), np.sqrt((1 - rho) / 2)
    t_max = np.maximum(np.exp(mean_ln_t + sigma_t * (plus * z1 + minus * z2)), 1.0)
    alpha = np.maximum(np.exp(mean_ln_alpha + sigma_alpha * (plus * z1 - minus * z2)), 1.1)
    return t_max, alpha


def radial_parameters(tau: np.ndarray, energy_gev: np.ndarray, medium: Medium):
    """Core radius Rc, tail radius Rt (Moliere radii) and core weight p at depth tau = t/T."""
    ln_e, z, fs, one_minus_e = np.log(energy_gev), medium.z, medium.fs, 1.0 - medium.e_hat
    rc = (0.0251 + 0.00319 * ln_e) + (0.1162 - 0.000381 * z) * tau
    rt = (0.659 - 0.00309 * z) * (np.exp(-2.59 * (tau - 0.645)) + np.exp((0.3585 + 0.0412 * ln_e) * (tau - 0.645)))
    p3 = 1.313 - 0.0686 * ln_e
    arg = ((0.401 + 0.00187 * z) - tau) / p3
    p = (2.632 - 0.00094 * z) * np.exp(arg - np.exp(arg))
    rc = rc - 0.0203 * one_minus_e + 0.0397 / fs * np.exp(-tau)
    rt = rt - 0.14 * one_minus_e - 0.495 / fs * np.exp(-tau)
    p = p + one_minus_e * (0.348 - 0.642 / fs * np.exp(-(tau - 1.0) ** 2))
    return np.maximum(rc, 1e-3), np.maximum(rt, 1e-3), np.clip(p, 0.0, 1.0)


def spot_energy_gev(stochastic_term: float) -> float:
    """Mean spot energy e0 giving sigma_E / E = a / sqrt(E / GeV) from Poisson counts of gamma spots."""
    return stochastic_term ** 2 / (1.0 + 1.0 / SPOT_SHAPE)


@dataclass
class Spots:
    """Energy spots of a batch of showers, flat arrays with the shower index of each spot."""
    shower: np.ndarray  # int64
    depth_x0: np.ndarray  # radiation lengths from the calorimeter front
    radius_rm: np.ndarray  # distance from the shower axis, Moliere radii
    angle: np.ndarray  # azimuth about the axis, radians in [-pi, pi)
    energy_gev: np.ndarray  # deposited energy (all materials)


def sample_spots(energy_gev: np.ndarray, particle: str, medium: Medium, stochastic_term: float,
                 rng: np.random.Generator) -> Spots:
    """Draw the spots of one shower per incident energy."""
    n_showers = len(energy_gev)
    t_max, alpha = longitudinal_parameters(energy_gev, medium, rng)
    beta = (alpha - 1.0) / t_max
    e0 = spot_energy_gev(stochastic_term)
    counts = rng.poisson(energy_gev / e0)
    shower = np.repeat(np.arange(n_showers), counts)
    start = rng.exponential(PHOTON_CONVERSION_X0, n_showers) if particle == "photon" else np.zeros(n_showers)
    depth_in_shower = rng.gamma(alpha[shower]) / beta[shower]
    tau = depth_in_shower / t_max[shower]
    rc, rt, p = radial_parameters(tau, energy_gev[shower], medium)
    width = np.where(rng.random(len(shower)) < p, rc, rt)
    u = rng.random(len(shower))
    radius = width * np.sqrt(u / (1.0 - u))
    angle = rng.uniform(-np.pi, np.pi, len(shower))
    energy = rng.gamma(SPOT_SHAPE, e0 / SPOT_SHAPE, len(shower))
    return Spots(shower, start[shower] + depth_in_shower, radius, angle, energy)
