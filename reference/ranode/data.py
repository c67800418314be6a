"""The dijet file of `l1forge data dijets`, the signal region and sidebands, signal injection and
the features as R-ANODE prepares them (the authors' code, rd804/R-ANODE):

- x = (m_J1, Delta m_J = m_J2 - m_J1, tau21_J1, tau21_J2), J1 the lighter jet, masses in TeV;
  each mapped to (0, 1) by the sideband's min and max (widened by MARGIN of the range), taken
  through a logit and standardised with the sideband's mean and spread. Signal-region events
  outside the sideband's range are dropped (the authors drop them too), in training and test sets
  alike, for every method.
- m = m_jj in TeV enters the background flow as (m - 3.5) / 0.5 and the signal flow and the
  background mass density as u = (m - 3.5) / 0.1, so both sides of the mixture are densities in
  the same coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..files import DataError, open_hdf5

KINDS = ("background", "signal", "sr_background")
SIGNAL_REGION = (3.3, 3.7)  # TeV
MASS_CENTRE = 3.5  # TeV
CONTEXT_SCALE = 0.5  # TeV: the background flow's condition
SR_SCALE = 0.1  # TeV: the signal-region mass coordinate u
MARGIN = 0.01
FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")


@dataclass
class Events:
    """Events of one sample: m_jj (TeV), raw x (n, 4) and truth (1: signal)."""
    mjj: np.ndarray
    x: np.ndarray
    truth: np.ndarray

    def __len__(self) -> int:
        return len(self.mjj)

    def select(self, rows) -> "Events":
        return Events(self.mjj[rows], self.x[rows], self.truth[rows])

    def in_signal_region(self) -> np.ndarray:
        return (self.mjj >= SIGNAL_REGION[0]) & (self.mjj <= SIGNAL_REGION[1])

    @staticmethod
    def join(*parts: "Events") -> "Events":
        return Events(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("mjj", "x", "truth")))


def read_dijets(path, limit: int | None = None) -> dict[str, Events]:
    """The three kinds of events of a dijet file, at most `limit` of each (DataError naming what
    is missing)."""
    with open_hdf5(path, "dijet") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs.get("feature_names", [])]
        need = ("mjj", "mj1", "mj2", "tau21_j1", "tau21_j2")
        missing = [n for n in need if n not in names]
        if missing:
            raise DataError(f"{path}: not a dijet file of `l1forge data dijets` (no feature columns {', '.join(missing)})")
        absent = [k for k in KINDS if k not in f]
        if absent:
            raise DataError(f"{path}: no {', '.join(absent)} events")
        out = {}
        for kind in KINDS:
            rows = f[kind][:limit].astype(np.float64)
            col = {n: rows[:, names.index(n)] for n in need}
            x = np.column_stack([col["mj1"], col["mj2"] - col["mj1"], col["tau21_j1"], col["tau21_j2"]])
            out[kind] = Events(col["mjj"], x, np.full(len(rows), kind == "signal", dtype=np.int64))
    for kind, least in (("background", 1000), ("signal", 100), ("sr_background", 200)):
        if len(out[kind]) < least:
            raise DataError(f"{path}: {len(out[kind])} {kind} events; R-ANODE needs at least {least}")
    return out


class Preprocessing:
    """The logit-and-standardise map of x, fitted on sideband events."""

    def __init__(self, sideband_x: np.ndarray):
        lo, hi = sideband_x.min(axis=0), sideband_x.max(axis=0)
        width = hi - lo
        self.lo, self.hi = lo - MARGIN * width, hi + MARGIN * width
        z = self._logit(sideband_x)
        self.mean, self.std = z.mean(axis=0), z.std(axis=0)

    def _logit(self, x: np.ndarray) -> np.ndarray:
        t = (x - self.lo) / (self.hi - self.lo)
        return np.log(t) - np.log1p(-t)

    def inside(self, x: np.ndarray) -> np.ndarray:
        return np.all((x > self.lo) & (x < self.hi), axis=1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Standardised logits of rows inside the range (check `inside` first)."""
        return ((self._logit(x) - self.mean) / self.std).astype(np.float32)


def background_context(mjj: np.ndarray) -> np.ndarray:
    return ((mjj - MASS_CENTRE) / CONTEXT_SCALE).astype(np.float32)[:, None]


def sr_coordinate(mjj: np.ndarray) -> np.ndarray:
    return ((mjj - MASS_CENTRE) / SR_SCALE).astype(np.float32)


@dataclass
class Experiment:
    """One injection: the training sidebands and signal region, the IAD's background sample, and
    the test set (all inside the preprocessing range)."""
    sideband: Events
    signal_region: Events
    iad_background: Events
    test: Events
    injected: int          # signal events injected in all
    signal_in_sr: int      # of which in the signal region (after the range cut)

    @property
    def true_w(self) -> float:
        return self.signal_in_sr / len(self.signal_region)

    @property
    def significance(self) -> float:
        """S / sqrt(B) in the signal region."""
        return self.signal_in_sr / np.sqrt(len(self.signal_region) - self.signal_in_sr)


def signal_pools(events: dict[str, Events], seed: int) -> tuple[Events, Events]:
    """The signal events split once: an injection pool (shuffled; injections take its first N, so
    smaller injections are subsets of larger ones) and a test pool."""
    signal = events["signal"].select(np.random.default_rng(seed).permutation(len(events["signal"])))
    half = len(signal) // 2
    return signal.select(slice(0, half)), signal.select(slice(half, None))


def injection_for_significance(events: dict[str, Events], pool: Events, significance: float) -> int:
    """Signal events to inject in all so that S / sqrt(B) in the signal region is about `significance`."""
    b = events["background"].in_signal_region().sum()
    in_sr = pool.in_signal_region().mean()
    n = int(round(significance * np.sqrt(b) / max(in_sr, 1e-9)))
    if n > len(pool):
        raise DataError(f"S/sqrt(B) = {significance:g} needs {n} signal events; the file's injection pool holds "
                        f"{len(pool)} (generate more with --n-signal)")
    return max(n, 1)


def make_experiment(events: dict[str, Events], pool: Events, test_signal: Events, n_inject: int,
                    prep: Preprocessing | None = None) -> tuple[Experiment, Preprocessing]:
    """The data of one injection, in the coordinates of `prep` (default: fitted on its sidebands;
    a background flow fitted on another injection's sidebands must be scored in that one's)."""
    data = Events.join(events["background"], pool.select(slice(0, n_inject)))
    sr = data.in_signal_region()
    prep = prep or Preprocessing(data.x[~sr])
    extra = events["sr_background"]
    half = len(extra) // 2
    keep = lambda e: e.select(prep.inside(e.x))  # noqa: E731
    test_sig = test_signal.select(test_signal.in_signal_region())
    region = keep(data.select(sr))
    experiment = Experiment(sideband=data.select(~sr), signal_region=region,
                            iad_background=keep(extra.select(slice(0, half))),
                            test=keep(Events.join(extra.select(slice(half, None)), test_sig)),
                            injected=n_inject, signal_in_sr=int(region.truth.sum()))
    if experiment.signal_in_sr == 0:
        raise DataError(f"none of the {n_inject} injected signal events lies in the signal region within the "
                        "sidebands' feature range; inject more (a larger S/sqrt(B)) or use more signal events")
    return experiment, prep
