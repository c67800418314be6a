"""The references' shared file handling: a run's output folder appears whole or not at all, a
file in its way is refused, and the entry-point wrapper turns data and file-system errors into one
line and exit 2."""
from __future__ import annotations

import pytest

from l1forge.reference.files import DataError, entry_point, output_folder


def test_output_folder_is_all_or_nothing(tmp_path):
    with output_folder(tmp_path / "out") as folder:
        (folder / "a.json").write_text("1")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out" / "a.json").read_text() == "1"
    with pytest.raises(RuntimeError):
        with output_folder(tmp_path / "failed") as folder:
            (folder / "half.json").write_text("{")
            raise RuntimeError("the plot failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # into an existing folder: its other files stay, same names are replaced
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with output_folder(tmp_path / "out") as folder:
        (folder / "a.json").write_text("2")
    assert (tmp_path / "out" / "a.json").read_text() == "2" and (tmp_path / "out" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="exists and is not a folder"):
        with output_folder(tmp_path / "file"):
            pass


def test_entry_point_errors(capsys):
    def fails(err):
        def body():
            raise err
        return body

    assert entry_point(fails(DataError("x.h5: not a jet file"))) == 2
    assert entry_point(fails(PermissionError(13, "Permission denied", "out"))) == 2
    assert entry_point(lambda: None) == 0
    assert capsys.readouterr().err.splitlines() == ["error: x.h5: not a jet file",
                                                    "error: [Errno 13] Permission denied: 'out'"]
    with pytest.raises(ZeroDivisionError):  # a bug is not dressed up as bad input
        entry_point(lambda: 1 / 0)
