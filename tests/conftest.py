"""Shared fixtures: a generated jet sample and ILD-like showers (cached per test session) and an isolated cache."""
from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

import pytest

from l1forge.models.data.parallel import BLAS_THREAD_VARIABLES
from tests.samples import PHYSICS_JETS_PER_CLASS


def _threads_per_worker() -> int | None:
    """Under pytest-xdist the workers already fill the cores: each gets its share of them for
    torch and BLAS, and so do the subprocesses it starts (the environment is inherited). Two
    workers each running a 2-thread OpenMP pool on 2 cores made small torch trainings 5x slower
    beside another busy process, and 45x on a loaded CI host (the fixtures of the iCaloFlow tests
    took 1,400-1,700 s instead of 30 s). A thread count the caller set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers < 1:
        return None
    return max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
               // workers)


_THREADS = _threads_per_worker()
if _THREADS is not None:
    for _variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(_variable, str(_THREADS))
    if "torch" in sys.modules:  # imported before this file by a plugin: its pool is already sized
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """The run's cache folder; under pytest-xdist one folder shared by all workers of the run, so
    a jet sample is generated once (see _generated_jets' lock)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "l1forge-cache"
        shared.mkdir(exist_ok=True)
        return shared
    return tmp_path_factory.mktemp("l1forge-cache")


@pytest.fixture(autouse=True)
def isolated_cache(session_cache, monkeypatch):
    """Every test uses the session's cache folder, never the user's ~/.cache."""
    monkeypatch.setenv("L1FORGE_CACHE", str(session_cache))


def _generated_jets(session_cache: Path, out: Path, n_per_class: int, seed: int) -> Path:
    """Jets generated with all cores into `out`, through the session's cache (the environment is
    restored afterwards)."""
    from l1forge.models.data.jets import generate_jets

    with pytest.MonkeyPatch.context() as env, open(session_cache / f"jets-{n_per_class}-{seed}.lock", "w") as lock:
        env.setenv("L1FORGE_CACHE", str(session_cache))
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker generating the same sample: wait, then reuse it
        generate_jets(n_per_class, seed=seed, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def jet_sample(session_cache, tmp_path_factory) -> Path:
    """400 jets per class, generated once per session."""
    return _generated_jets(session_cache, tmp_path_factory.mktemp("jets") / "sample.h5", PHYSICS_JETS_PER_CLASS, 2026)


@pytest.fixture(scope="session")
def jets_10k(session_cache, tmp_path_factory) -> Path:
    """10,000 generated jets (2,000 per class) for co-simulation."""
    return _generated_jets(session_cache, tmp_path_factory.mktemp("jets10k") / "jets.h5", 2000, 77)


@pytest.fixture(scope="session")
def ild_showers(tmp_path_factory) -> Path:
    """240 ILD-like point-cloud showers (CaloClouds layout), generated once per session."""
    from l1forge.models.data.showers import generate_showers, shower_settings

    path = tmp_path_factory.mktemp("ild") / "ild.h5"
    generate_showers(240, 0, path, shower_settings("ild"), workers=1)
    return path


@pytest.fixture(scope="session")
def ds2_showers(tmp_path_factory) -> Path:
    """300 CaloChallenge dataset-2-like showers, generated once per session."""
    from l1forge.models.data.showers import generate_showers, shower_settings

    path = tmp_path_factory.mktemp("ds2") / "ds2.h5"
    generate_showers(300, 0, path, shower_settings("ds2"), workers=1)
    return path


@pytest.fixture(scope="session")
def ds3_showers(tmp_path_factory) -> Path:
    """240 CaloChallenge dataset-3-like showers, generated once per session."""
    from l1forge.models.data.showers import generate_showers, shower_settings

    path = tmp_path_factory.mktemp("ds3") / "ds3.h5"
    generate_showers(240, 0, path, shower_settings("ds3"), workers=1)
    return path


@pytest.fixture(scope="session")
def jetclass_sample(session_cache, tmp_path_factory) -> Path:
    """60 JetClass-like jets of each of the 7 classes, generated once per session."""
    from l1forge.models.data.jetclass import generate_jetclass

    path = tmp_path_factory.mktemp("jetclass") / "jetclass.h5"
    with pytest.MonkeyPatch.context() as env, open(session_cache / "jetclass.lock", "w") as lock:
        env.setenv("L1FORGE_CACHE", str(session_cache))
        fcntl.flock(lock, fcntl.LOCK_EX)
        generate_jetclass(60, seed=5, out=path, progress=False)
    return path
