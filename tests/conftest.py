"""Shared fixtures: a generated jet sample (cached per test session) and an isolated cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

PHYSICS_JETS_PER_CLASS = 400


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("l1forge-cache")


@pytest.fixture(autouse=True)
def isolated_cache(session_cache, monkeypatch):
    """Every test uses the session's cache folder, never the user's ~/.cache."""
    monkeypatch.setenv("L1FORGE_CACHE", str(session_cache))


@pytest.fixture(scope="session")
def jet_sample(session_cache, tmp_path_factory) -> Path:
    """400 jets per class, generated once per session with all cores."""
    from models.data.jets import generate_jets

    os.environ["L1FORGE_CACHE"] = str(session_cache)
    out = tmp_path_factory.mktemp("jets") / "sample.h5"
    generate_jets(PHYSICS_JETS_PER_CLASS, seed=2026, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def jets_10k(session_cache, tmp_path_factory) -> Path:
    """10,000 generated jets (2,000 per class) for co-simulation."""
    from models.data.jets import generate_jets

    os.environ["L1FORGE_CACHE"] = str(session_cache)
    out = tmp_path_factory.mktemp("jets10k") / "jets.h5"
    generate_jets(2000, seed=77, out=out, progress=False)
    return out


def anchors_dir() -> Path:
    """The public reference reports (../shared/anchors/l1-jet-id: the seed paper's Vivado HLS and
    Vivado synthesis reports and its trained models), unpacked once from tests/fixtures."""
    import shutil
    import tarfile
    import tempfile

    target = Path(tempfile.gettempdir()) / "l1forge-test-anchors"
    if not (target / "l1-jet-id" / "INDEX.md").is_file():
        partial = Path(tempfile.mkdtemp(prefix="l1forge-anchors-"))
        with tarfile.open(Path(__file__).parent / "fixtures" / "l1-jet-id-anchors.tar.xz") as tar:
            tar.extractall(partial, filter="data")
        shutil.rmtree(target, ignore_errors=True)  # a half-unpacked earlier attempt
        try:
            partial.rename(target)
        except OSError:  # another process unpacked it first
            shutil.rmtree(partial, ignore_errors=True)
    return target / "l1-jet-id"
