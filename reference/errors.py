"""The one error the references raise for input they cannot use, and the HDF5 opening they share."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A data file a reference cannot use (the message names the file and the problem)."""


def open_hdf5(path: str | Path, kind: str):
    """An open h5py file, or a DataError naming the path (`kind`: what the file should hold)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such {kind} file")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise DataError(f"{path}: not an HDF5 file") from None
