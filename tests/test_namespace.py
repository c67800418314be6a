"""One namespace: the repository's compiler/, hw/, models/ and reference/ install as l1forge.compiler,
l1forge.hw, l1forge.models and l1forge.reference, so a user's own `models/` or `compiler/` package
never shadows them; `import l1forge` is the lazy public API."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.samples import REPO_ROOT

FOLDERS = {"l1forge": "l1forge", "l1forge.compiler": "compiler", "l1forge.hw": "hw", "l1forge.models": "models",
           "l1forge.reference": "reference"}
DECOY = 'raise ImportError("the decoy {} package of the user\'s project was imported")\n'


def _pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_pyproject_lists_every_package_of_the_tree():
    setup = _pyproject()["tool"]["setuptools"]
    assert setup["package-dir"] == FOLDERS
    on_disk = {prefix + "." + ".".join(init.parent.relative_to(REPO_ROOT / folder).parts) if init.parent != REPO_ROOT / folder
               else prefix
               for prefix, folder in FOLDERS.items() for init in (REPO_ROOT / folder).rglob("__init__.py")}
    assert set(setup["packages"]) == on_disk
    for package in _pyproject()["tool"]["setuptools"]["package-data"]:
        assert package in on_disk


def test_entry_points_name_the_namespace():
    project = _pyproject()["project"]
    targets = [project["scripts"]["l1forge"], *project["entry-points"]["l1forge.commands"].values()]
    assert all(t.startswith("l1forge.") for t in targets), targets


@pytest.fixture
def decoy_project(tmp_path) -> Path:
    """An ordinary ML project's folder: its own models/, compiler/ and hw/ packages that fail on import."""
    for name in ("models", "compiler", "hw", "reference"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(DECOY.format(name))
    return tmp_path


def test_runs_beside_a_project_with_its_own_models_package(decoy_project):
    res = _python("-m", "l1forge", "data", "--help", cwd=decoy_project)
    assert res.returncode == 0, res.stderr
    assert "Generate and inspect physics data sets" in res.stdout
    script = Path(sys.executable).parent / "l1forge"
    res = subprocess.run([str(script), "train", "--help"], cwd=decoy_project, capture_output=True, text=True)
    assert res.returncode == 0 and "Quantization-aware training" in res.stdout, res.stderr
    res = _python("-c", "import l1forge.models.taggers, l1forge.compiler.pipeline, l1forge.hw.sim.cosim; "
                        "print('loaded')", cwd=decoy_project)
    assert res.returncode == 0 and "loaded" in res.stdout, res.stderr
    # the decoys are real: the bare name still loads the user's own package
    res = _python("-c", "import models", cwd=decoy_project)
    assert "the decoy models package of the user's project was imported" in res.stderr


def test_import_l1forge_is_lazy_and_every_public_name_resolves(decoy_project):
    code = ("import sys, l1forge\n"
            "heavy = sorted(m for m in ('torch', 'onnx', 'qonnx', 'hls4ml', 'da4ml') if m in sys.modules)\n"
            "assert not heavy, heavy\n"
            "missing = [n for n in l1forge.__all__ if getattr(l1forge, n, None) is None]\n"
            "assert not missing, missing\n"
            "assert set(l1forge.__all__) <= set(dir(l1forge))\n"
            "try:\n    l1forge.no_such_name\nexcept AttributeError as e:\n    print(e)\n")
    res = _python("-c", code, cwd=decoy_project)
    assert res.returncode == 0, res.stderr
    assert "no attribute 'no_such_name'" in res.stdout


def test_keras_extra_shows_in_help():
    """Typer renders help with rich markup, where an unescaped [keras] silently vanishes."""
    res = _python("-m", "l1forge", "keras-check", "--help", cwd=REPO_ROOT)
    assert res.returncode == 0, res.stderr
    assert "pip install 'l1forge[keras]'" in res.stdout


def test_wheel_installs_the_namespace(tmp_path):
    """A regular (non-editable) wheel holds l1forge/compiler/..., the package data, and no bare
    top-level compiler/ or models/."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    for folder in FOLDERS.values():
        shutil.copytree(REPO_ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    res = _python("-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
                  str(src), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (wheel,) = (tmp_path / "dist").glob("l1forge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"l1forge"}
    for needed in ("l1forge/__init__.py", "l1forge/compiler/ir/ops.py", "l1forge/models/taggers/quantized.py",
                   "l1forge/hw/report/report.schema.json", "l1forge/hw/sim/verilator_tb.cpp",
                   "l1forge/compiler/backends/hls4ml/" + next((REPO_ROOT / "compiler/backends/hls4ml").glob("*.h")).name,
                   "l1forge/reference/ultrafast_jet_classification/__init__.py"):
        assert needed in names, needed
