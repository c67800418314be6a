"""README's Python API example runs as written (data, train, compile with co-simulation, report)."""
from __future__ import annotations

import re

import pytest

from tests.samples import PHYSICS_JETS_PER_CLASS, REPO_ROOT


def readme_api_example() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## Python API: `import l1forge`"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_example_uses_only_the_public_namespace():
    code = readme_api_example()
    assert "import l1forge\n" in code
    assert not re.search(r"^\s*(from|import) (compiler|models|hw|reference)\b", code, re.M)


@pytest.mark.slow
@pytest.mark.tools
def test_readme_example_runs(jet_sample, tmp_path, monkeypatch, capsys):
    code = readme_api_example()
    assert f"generate_jets({PHYSICS_JETS_PER_CLASS}, seed=2026" in code  # the session's cached sample
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md:python-api", "exec"), namespace)
    out = capsys.readouterr().out
    assert "verification: bit-exact" in out and "latency:" in out
    assert namespace["logits"].shape == (16, 5)
    assert (tmp_path / "build" / "ds8" / "report.html").is_file()
