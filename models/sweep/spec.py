"""A sweep spec (YAML): what data, which settings vary, how the points are drawn, what is kept.

    data: jets.h5              # jet file(s), relative to the spec's folder
    fixed: {model: deepsets, epochs: 5, backend: rtl}
    axes: {n_constituents: [8, 16, 32], bits: [4, 6, 8]}
    search: grid               # or {random: 12, seed: 0}; random axes may be {low, high, log}
    objectives: {accuracy: max, LUT: min}
    resources: {cpus: 1, memory_gb: 4}
    retries: 2                 # reruns of a point whose worker died (killed, out of memory)

Every setting a point can take is in SETTINGS (one table: its stage, parser and default), so an
unknown axis, an unknown model or an empty grid is refused in one line before any work. A point
is the full dict of settings (defaults filled in); its key is the content hash of that dict and of
the data's bytes, so a finished point is recognised whatever the spec that produced it.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l1forge.compiler.errors import L1ForgeError

KEY_VERSION = 1  # bump when a point's meaning changes for the same settings (old results are then redone)


def _widths(value) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(" ", "").split(",") if v]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"expected a list of layer widths, got {value!r}")
    return tuple(_integer(v) for v in value)


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str, float)) or float(value) != int(float(value)):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(float(value))


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _choice(*options):
    def parse(value):
        value = str(value)
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value
    return parse


def _text(value) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a name, got {value!r}")
    return value


@dataclass(frozen=True)
class Setting:
    stage: str  # data | train | compile
    parse: object
    default: object
    help: str


SETTINGS = {
    # the tagger and its data (models.taggers.TaggerConfig, models.data.loader.load_jets)
    "model": Setting("train", _choice("deepsets", "intnet", "mlp"), "deepsets", "tagger family"),
    "n_constituents": Setting("data", _integer, 8, "leading constituents N"),
    "features": Setting("data", _choice("3", "3rel", "16"), "3", "constituent features"),
    "pool": Setting("train", _choice("mean", "sum", "max"), "mean", "aggregation over particles"),
    "phi": Setting("train", _widths, (32, 32, 32), "deep-set phi widths"),
    "rho": Setting("train", _widths, (32,), "deep-set rho widths"),
    "widths": Setting("train", _widths, (120, 60, 32, 64, 64, 64, 32, 44), "MLP widths"),
    "effects": Setting("train", _widths, (12, 6), "interaction-network edge widths"),
    "objects": Setting("train", _widths, (36, 18, 6), "interaction-network node widths"),
    "classifier": Setting("train", _widths, (170,), "interaction-network classifier widths"),
    "bits": Setting("train", _integer, None, "weight and activation bits (sets w_bits and a_bits)"),
    "w_bits": Setting("train", _integer, 8, "weight bits"),
    "a_bits": Setting("train", _integer, 8, "activation bits"),
    "hgq": Setting("train", _flag, False, "learnable bit widths"),
    "beta": Setting("train", _number, 0.0, "HGQ resource weight"),
    "hgq_per_particle": Setting("train", _flag, False, "HGQ grids per particle slot"),
    "epochs": Setting("train", _integer, 20, "training epochs"),
    "batch_size": Setting("train", _integer, 256, "training batch"),
    "lr": Setting("train", _number, 2e-3, "learning rate"),
    "seed": Setting("train", _integer, 0, "seed of the split, initialisation and batches"),
    # the compile (compiler.api.CompileOptions) and what is measured
    "backend": Setting("compile", _choice("hls4ml", "rtl", "finn"), "rtl", "firmware backend"),
    "part": Setting("compile", _text, "xcvu13p-flga2577-2-e", "FPGA part"),
    "clock_ns": Setting("compile", _number, 5.0, "clock period"),
    "reuse_factor": Setting("compile", _integer, 1, "hls4ml reuse factor"),
    "synth": Setting("compile", _flag, False, "yosys synthesis (rtl); false: the backend's named estimate"),
    "verify_samples": Setting("compile", _integer, 2000, "test jets co-simulated (firmware = emulator = QONNX)"),
}
METRICS = ("accuracy", "quantized_accuracy", "float_accuracy", "cycles", "latency_ns", "II", "LUT", "FF", "DSP",
           "BRAM", "train_s", "compile_s")
RESOURCE_KEYS = ("cpus", "memory_gb")


@dataclass
class SweepSpec:
    path: Path
    data: list[Path]
    fixed: dict
    axes: dict[str, list]
    search: dict
    objectives: dict[str, str]
    resources: dict = field(default_factory=lambda: {"cpus": 1, "memory_gb": 4})
    retries: int = 2

    def points(self) -> list[dict]:
        """Every point's full settings, in a fixed order (grid: the product of the axes in the
        spec's order; random: `random` draws with the spec's seed)."""
        names = list(self.axes)
        if "grid" in self.search:
            draws = [dict(zip(names, values)) for values in itertools.product(*self.axes.values())]
        else:
            rng = np.random.default_rng(self.search["seed"])
            draws = [{name: _draw(rng, self.axes[name]) for name in names} for _ in range(self.search["random"])]
        points, seen = [], set()
        for draw in draws:
            point = resolve({**self.fixed, **draw}, where=str(self.path))
            marker = json.dumps(point, sort_keys=True)
            if marker not in seen:  # a random search may draw a point twice
                seen.add(marker)
                points.append(point)
        return points


def _draw(rng, axis):
    if isinstance(axis, list):
        return axis[int(rng.integers(len(axis)))]
    low, high = axis["low"], axis["high"]
    value = math.exp(rng.uniform(math.log(low), math.log(high))) if axis.get("log") else rng.uniform(low, high)
    return float(f"{value:.4g}")


def resolve(settings: dict, where: str) -> dict:
    """The full settings of a point: every SETTINGS name parsed, defaults filled in, `bits` split
    into w_bits and a_bits, and the tagger configuration checked (a ValueError names the point)."""
    from l1forge.models.taggers import TaggerConfig

    point = {}
    for name, setting in SETTINGS.items():
        value = settings.get(name, setting.default)
        point[name] = value if value is None else _parsed(name, value, where)
    bits = point.pop("bits")
    if bits is not None:
        point["w_bits"] = point["a_bits"] = bits
    for name in ("epochs", "batch_size", "verify_samples", "reuse_factor"):
        if point[name] < 1:
            raise L1ForgeError(f"{where}: {name} must be >= 1, got {point[name]}")
    if point["lr"] <= 0 or point["clock_ns"] <= 0:
        raise L1ForgeError(f"{where}: lr and clock_ns must be > 0")
    try:
        tagger_config(point, TaggerConfig)
    except ValueError as exc:
        raise L1ForgeError(f"{where}: point {short(point)}: {exc}") from None
    return point


def tagger_config(point: dict, config_type):
    n_features = {"3": 3, "3rel": 3, "16": 16}[point["features"]]
    names = ("model", "n_constituents", "pool", "phi", "rho", "widths", "effects", "objects", "classifier",
             "w_bits", "a_bits", "hgq", "beta", "hgq_per_particle")
    return config_type(n_features=n_features, **{k: point[k] for k in names})


def _parsed(name: str, value, where: str):
    try:
        parsed = SETTINGS[name].parse(value)
    except ValueError as exc:
        raise L1ForgeError(f"{where}: setting {name!r}: {exc}") from None
    return list(parsed) if isinstance(parsed, tuple) else parsed  # JSON-shaped, so the key is stable


def short(point: dict, names=None) -> str:
    """A point in a few words: the settings that differ from the defaults (or the given names)."""
    names = names or [n for n in point if point[n] != _default(n)]
    return " ".join(f"{n}={_fmt(_value(point, n))}" for n in names) or "defaults"


def _value(point: dict, name: str):
    if name == "bits":  # an axis of the spec, stored as w_bits and a_bits
        return point["w_bits"] if point["w_bits"] == point["a_bits"] else f"{point['w_bits']}/{point['a_bits']}"
    return point[name]


def _default(name):
    default = SETTINGS[name].default
    return list(default) if isinstance(default, tuple) else default


def _fmt(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) else str(value)


def point_key(point: dict, data_digest: str) -> str:
    """The content hash of a point (its settings and its data's bytes): 16 hex digits."""
    text = json.dumps({"settings": point, "data": data_digest, "version": KEY_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec; every problem is one L1ForgeError naming the file and the entry."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise L1ForgeError(f"{path}: no such sweep spec")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise L1ForgeError(f"{path}: not valid YAML ({first})") from None
    if not isinstance(raw, dict):
        raise L1ForgeError(f"{path}: a sweep spec is a mapping with data, axes and optional fixed, search, "
                           f"objectives, resources, retries")
    known = {"data", "fixed", "axes", "search", "objectives", "resources", "retries"}
    if unknown := sorted(set(raw) - known):
        raise L1ForgeError(f"{path}: unknown entry {unknown[0]!r} (known: {', '.join(sorted(known))})")
    data = _data_files(path, raw.get("data"))
    fixed = _mapping(path, raw, "fixed")
    axes = _mapping(path, raw, "axes")
    for name in list(fixed) + list(axes):
        if name not in SETTINGS:
            where = "fixed" if name in fixed else "axes"
            raise L1ForgeError(f"{path}: {where}: unknown setting {name!r} (known: {', '.join(SETTINGS)})")
    if not axes:
        raise L1ForgeError(f"{path}: axes: nothing varies; give at least one axis (e.g. n_constituents: [8, 16])")
    if both := sorted(set(fixed) & set(axes)):
        raise L1ForgeError(f"{path}: {both[0]!r} is both fixed and an axis")
    search = _search(path, raw.get("search", "grid"))
    for name, values in axes.items():
        _check_axis(path, name, values, search)
    spec = SweepSpec(path=path, data=data, fixed=fixed, axes=axes, search=search,
                     objectives=_objectives(path, raw.get("objectives", {"accuracy": "max", "LUT": "min"})),
                     resources=_resources(path, raw.get("resources", {})), retries=_retries(path, raw))
    spec.points()  # every point resolves (an unknown model, bad widths: refused before any work)
    return spec


def _mapping(path: Path, raw: dict, name: str) -> dict:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise L1ForgeError(f"{path}: {name} must be a mapping of setting: value, got {type(value).__name__}")
    return value


def _data_files(path: Path, data) -> list[Path]:
    if data is None:
        raise L1ForgeError(f"{path}: no data (give the jet file(s): data: jets.h5)")
    names = data if isinstance(data, list) else [data]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise L1ForgeError(f"{path}: data must be a file name or a list of them, got {data!r}")
    files = [(path.parent / n).resolve() for n in names]
    for f in files:
        if not f.is_file():
            raise L1ForgeError(f"{path}: data: no such file {f}")
    return files


def _search(path: Path, search) -> dict:
    if search == "grid":
        return {"grid": True}
    if isinstance(search, dict) and set(search) <= {"random", "seed"} and "random" in search:
        try:
            count, seed = _integer(search["random"]), _integer(search.get("seed", 0))
        except ValueError as exc:
            raise L1ForgeError(f"{path}: search: {exc}") from None
        if count < 1:
            raise L1ForgeError(f"{path}: search: random needs at least 1 point, got {count}")
        return {"random": count, "seed": seed}
    raise L1ForgeError(f"{path}: search must be 'grid' or {{random: COUNT, seed: SEED}}, got {search!r}")


def _check_axis(path: Path, name: str, values, search: dict) -> None:
    if isinstance(values, dict):
        if "grid" in search:
            raise L1ForgeError(f"{path}: axes: {name} is a range; a grid needs a list of values "
                               f"(or use search: {{random: COUNT}})")
        if set(values) - {"low", "high", "log"} or not {"low", "high"} <= set(values):
            raise L1ForgeError(f"{path}: axes: {name}: a range is {{low, high, log}}, got {values!r}")
        if SETTINGS[name].parse is not _number:
            raise L1ForgeError(f"{path}: axes: {name} takes values from a list, not a range")
        low, high = _parsed(name, values["low"], str(path)), _parsed(name, values["high"], str(path))
        if not low < high or (values.get("log") and low <= 0):
            raise L1ForgeError(f"{path}: axes: {name}: need 0 < low < high for a log range, low < high otherwise")
        return
    if not isinstance(values, list):
        raise L1ForgeError(f"{path}: axes: {name} must be a list of values, got {values!r}")
    if not values:
        raise L1ForgeError(f"{path}: axes: {name} is empty, so the sweep has no points")
    for v in values:
        _parsed(name, v, f"{path}: axes: {name}")


def _objectives(path: Path, objectives) -> dict[str, str]:
    if not isinstance(objectives, dict) or not objectives:
        raise L1ForgeError(f"{path}: objectives must map metrics to max or min, e.g. {{accuracy: max, LUT: min}}")
    for metric, sense in objectives.items():
        if metric not in METRICS:
            raise L1ForgeError(f"{path}: objectives: unknown metric {metric!r} (known: {', '.join(METRICS)})")
        if sense not in ("max", "min"):
            raise L1ForgeError(f"{path}: objectives: {metric} must be max or min, got {sense!r}")
    return dict(objectives)


def _resources(path: Path, resources) -> dict:
    if not isinstance(resources, dict) or set(resources) - set(RESOURCE_KEYS):
        raise L1ForgeError(f"{path}: resources takes cpus and memory_gb (per point), got {resources!r}")
    out = {"cpus": 1, "memory_gb": 4, **resources}
    try:
        out = {"cpus": _number(out["cpus"]), "memory_gb": _number(out["memory_gb"])}
    except ValueError as exc:
        raise L1ForgeError(f"{path}: resources: {exc}") from None
    if out["cpus"] <= 0 or out["memory_gb"] <= 0:
        raise L1ForgeError(f"{path}: resources: cpus and memory_gb must be > 0")
    return out


def _retries(path: Path, raw: dict) -> int:
    try:
        retries = _integer(raw.get("retries", 2))
    except ValueError as exc:
        raise L1ForgeError(f"{path}: retries: {exc}") from None
    if retries < 0:
        raise L1ForgeError(f"{path}: retries must be >= 0, got {retries}")
    return retries
