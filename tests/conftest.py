"""Shared fixtures: a generated jet sample and ILD-like showers (cached per test session) and an isolated cache."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from tests.samples import PHYSICS_JETS_PER_CLASS


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
