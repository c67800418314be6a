"""The layering rule of DESIGN.md, checked on the import statements of every module (AST).

Module names here drop the installed namespace: `compiler.ir` is the package l1forge.compiler.ir
(the folder compiler/ir). Every import of a project package spells the namespace
(`from l1forge.compiler.ir import ...`) or is relative; a bare `compiler`/`models`/`hw`/`reference`
import would load whatever package of that name comes first on sys.path.

bottom  compiler.ir, compiler.errors, compiler.atomic, compiler.quiet: import only the bottom.
middle  compiler.passes, compiler.frontends, compiler.backends, hw: the bottom and their own
        package (a backend folder, hw), never another middle package.
top     the drivers: compiler.pipeline, compiler.cli, compiler.api, compiler.tools, and each
        backend's Backend implementation (compiler.backends.<name>.backend, which joins the
        backend's lowering with hw's simulators and synthesis): anything.
models  plugs into the CLI by entry points; imports of l1forge only through compiler.api and the
        bottom's errors, atomic writes and quiet output; and reference.
reference imports nothing of compiler, hw or models.
the public API (the l1forge package itself) sits above all of them.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "l1forge"
PACKAGES = ("compiler", "hw", "models", "reference")
BOTTOM = ("compiler.ir", "compiler.errors", "compiler.atomic", "compiler.quiet")
TOP = ("compiler.pipeline", "compiler.cli", "compiler.api", "compiler.tools", NAMESPACE)
MODELS_MAY_IMPORT = BOTTOM[1:] + ("compiler.api", "models", "reference")


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, package: str) -> list[tuple[int, str, bool]]:
    """(line, module, relative) for every import statement in the file; relative imports resolved
    against `package`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, False) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else [])), True))
            else:
                found.append((node.lineno, node.module, False))
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module without the namespace) for every import of a project package in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for line, target, relative in _imports(path, package):
        if not relative and target.split(".")[0] == NAMESPACE:
            target = target.partition(".")[2] or NAMESPACE
        elif not relative:
            continue  # a third-party module, or a bare import (test_every_import_spells_the_namespace)
        found.append((line, target))
    return found


def bare_imports(path: Path) -> list[tuple[int, str]]:
    """Absolute imports of compiler/hw/models/reference without the l1forge namespace."""
    return [(line, t) for line, t, relative in _imports(path, "") if not relative and t.split(".")[0] in PACKAGES]


def layer_of(name: str) -> str:
    if _within(name, BOTTOM):
        return "bottom"
    if _within(name, TOP) or (name.startswith("compiler.backends.") and name.endswith(".backend")):
        return "top"
    for group in ("models", "reference"):
        if _within(name, (group,)):
            return group
    return "middle"


def middle_package(name: str) -> str:
    """The package a middle module may import besides the bottom: its backend folder, its
    compiler sub-package, or hw."""
    parts = name.split(".")
    if parts[0] == "hw":
        return "hw"
    if parts[:2] == ["compiler", "backends"] and len(parts) > 2:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def violation(importer: str, imported: str) -> str | None:
    layer = layer_of(importer)
    if layer == "top":
        return None
    if layer == "bottom":
        ok = _within(imported, BOTTOM)
    elif layer == "middle":
        ok = _within(imported, BOTTOM) or _within(imported, (middle_package(importer),)) \
            or imported == "compiler.backends.base"
    elif layer == "models":
        ok = _within(imported, MODELS_MAY_IMPORT)
    else:
        ok = _within(imported, ("reference",))
    return None if ok else f"{importer} ({layer}) imports {imported} ({layer_of(imported)})"


def all_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_import_spells_the_namespace():
    """Sources, tests and benchmarks: `from l1forge.compiler...`, never `from compiler...`."""
    files = sorted(p for d in (*PACKAGES, NAMESPACE, "tests", "benchmarks") for p in (ROOT / d).rglob("*.py"))
    found = [f"{p.relative_to(ROOT)}:{line}: import {t}" for p in files for line, t in bare_imports(p)]
    assert not found, "imports without the l1forge namespace:\n" + "\n".join(found)


def test_bare_import_is_caught(tmp_path):
    (tmp_path / "m.py").write_text("from compiler.ir import verify\nfrom l1forge.hw import parts\nimport numpy\n")
    assert bare_imports(tmp_path / "m.py") == [(1, "compiler.ir")]


def test_layering_rule_holds_for_every_import():
    found = [f"{p.relative_to(ROOT)}:{line}: {v}" for p in all_modules() for line, target in imports_of(p)
             if (v := violation(module_name(p), target))]
    assert not found, "layering violations:\n" + "\n".join(found)


@pytest.mark.parametrize("importer,imported,bad", [
    ("compiler.ir.emulator", "compiler.passes.canonicalize", True),
    ("compiler.backends.hls4ml.lowering", "hw.estimate", True),
    ("compiler.backends.hls4ml.backend", "hw.estimate", False),
    ("compiler.backends.hls4ml.lowering", "compiler.backends.rtl.trace", True),
    ("compiler.backends.hls4ml.lowering", "compiler.ir.ops", False),
    ("hw.sim.cosim", "compiler.pipeline", True),
    ("models.train", "compiler.passes.canonicalize", True),
    ("models.train", "compiler.api", False),
    ("reference.ultrafast_jet_classification.models", "models.taggers", True),
    ("models.train", NAMESPACE, True),  # the lazy public API is above every package
])
def test_rule_itself(importer, imported, bad):
    assert (violation(importer, imported) is not None) == bad


def test_relative_imports_resolve(tmp_path):
    lines = dict((t, n) for n, t in imports_of(ROOT / "compiler" / "backends" / "hls4ml" / "lowering.py"))
    assert "compiler.ir.ops" in lines or "compiler.ir.integer" in lines


def import_graph() -> dict[str, set[str]]:
    """Package-level import graph (compiler.ir, compiler.passes, hw, ...: who imports whom)."""
    def group(name: str) -> str:
        parts = name.split(".")
        if parts[-1] == "backend":  # a backend's driver module stands apart from its folder
            return name
        if parts[0] == "compiler" and len(parts) > 1:
            return ".".join(parts[:3]) if parts[1] == "backends" and len(parts) > 2 and parts[2] != "base" \
                else ".".join(parts[:2])
        return parts[0]

    graph: dict[str, set[str]] = {}
    for path in all_modules():
        src = group(module_name(path))
        graph.setdefault(src, set()).update(g for _, t in imports_of(path) if (g := group(t)) != src)
    return graph


if __name__ == "__main__":  # python -m tests.test_layering: print the import graph with each package's layer
    for src, targets in sorted(import_graph().items()):
        print(f"{src} [{layer_of(src)}] -> {', '.join(sorted(targets)) or '-'}")
