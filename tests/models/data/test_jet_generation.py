"""Reproducibility, caching and atomic output of `l1forge data jets`."""
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from l1forge.models.data import jets as jetgen
from l1forge.models.data.parallel import cache_dir

pytestmark = pytest.mark.tools  # every test here runs g++, Verilator, Pythia or Chromium


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_arguments_give_same_bytes_whatever_the_worker_count(tmp_path, monkeypatch):
    monkeypatch.setattr(jetgen, "CHUNK_JETS", 20)  # several chunks per class, so scheduling matters
    outs = []
    for workers in (1, 2):
        monkeypatch.setenv("L1FORGE_CACHE", str(tmp_path / f"cache{workers}"))
        out = tmp_path / f"w{workers}.h5"
        stats = jetgen.generate_jets(30, seed=5, out=out, workers=workers, progress=False)
        assert not stats["cached"]
        outs.append(out)
    assert sha(outs[0]) == sha(outs[1])


def test_different_seeds_differ(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    jetgen.generate_jets(10, seed=1, out=a, progress=False)
    jetgen.generate_jets(10, seed=2, out=b, progress=False)
    assert sha(a) != sha(b)


def test_second_call_is_served_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("L1FORGE_CACHE", str(tmp_path / "cache"))  # empty, whatever else ran before
    first = jetgen.generate_jets(10, seed=3, out=tmp_path / "x.h5", progress=False)
    second = jetgen.generate_jets(10, seed=3, out=tmp_path / "y.h5", progress=False)
    assert not first["cached"] and second["cached"]
    assert sha(tmp_path / "x.h5") == sha(tmp_path / "y.h5")
    assert first["per_class"]["W"]["jets"] == 10 and first["per_class"]["W"]["core_seconds"] > 0


def test_chunk_seeds_are_distinct_and_in_pythia_range():
    seeds = {jetgen.chunk_seed(s, c, i) for s in range(3) for c in ("W", "Z") for i in range(50)}
    assert len(seeds) == 300
    assert all(1 <= s <= 900_000_000 for s in seeds)


def test_failed_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*args):
        raise RuntimeError("worker died")

    monkeypatch.setattr(jetgen, "generate_chunk", boom)
    out = tmp_path / "out" / "jets.h5"
    with pytest.raises(RuntimeError):
        jetgen.generate_jets(5, seed=99, out=out, workers=1, progress=False)
    assert not out.exists()
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    cache = cache_dir() / "jets"
    assert not list(cache.glob(f"{jetgen.cache_key(5, 99)}*"))
    assert not list(cache.glob("*.part"))


def test_cli_generates_and_summarises(tmp_path):
    out = tmp_path / "cli.h5"
    res = subprocess.run([sys.executable, "-m", "l1forge", "data", "jets", "--out", str(out),
                          "--n-per-class", "10", "--seed", "4"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert out.exists() and (tmp_path / "cli_mass.png").stat().st_size > 10_000
    for cls in ("gluon", "quark", "W", "Z", "top"):
        assert cls in res.stdout
    assert "made by l1forge jets v4" in res.stdout
    assert ("pt_hat 990-1010, jet_pt 800-1600, cone 0, min_particle_pt 0, bw_cutoff 15, boson_decays isotropic, "
            "detector cms, radius 0.4, isr off, mpi off" in " ".join(res.stdout.split()))
