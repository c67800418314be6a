"""Shared fixtures: a generated jet sample (cached per test session) and an isolated cache."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.samples import PHYSICS_JETS_PER_CLASS


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("l1forge-cache")


@pytest.fixture(autouse=True)
def isolated_cache(session_cache, monkeypatch):
    """Every test uses the session's cache folder, never the user's ~/.cache."""
    monkeypatch.setenv("L1FORGE_CACHE", str(session_cache))


def _generated_jets(session_cache: Path, out: Path, n_per_class: int, seed: int) -> Path:
    """Jets generated with all cores into `out`, through the session's cache (the environment is
    restored afterwards)."""
    from l1forge.models.data.jets import generate_jets

    with pytest.MonkeyPatch.context() as env:
        env.setenv("L1FORGE_CACHE", str(session_cache))
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
