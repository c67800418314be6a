"""`l1forge sweep SPEC.yaml`: design-space sweeps (train -> compile -> verify -> measure per
point) as Ray tasks, local by default or on a cluster, resumable from a SQLite store."""
from .engine import run_sweep
from .outputs import write_outputs
from .spec import SETTINGS, SweepSpec, load_spec

__all__ = ["SETTINGS", "SweepSpec", "load_spec", "run_sweep", "write_outputs"]
