"""What the references share about files: the one error they raise for input they cannot use, the
HDF5 opening, the output folder a run writes all at once, JSON without non-finite numbers, and the
entry points' error handling."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path


class DataError(ValueError):
    """A data file or folder a reference cannot use (the message names it and the problem)."""


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


def check_output(out: str | Path) -> Path:
    """The output folder's path, refused early when a file is in the way."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    return out


@contextmanager
def output_folder(out: str | Path):
    """Yields a fresh folder beside OUT to write a run's files into; when the block succeeds they
    move into OUT (created if needed; files of the same names replaced), when it fails nothing is
    left behind."""
    out = check_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
        if not out.exists():
            staging.rename(out)
            return
        for item in staging.iterdir():
            item.replace(out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def json_text(results) -> str:
    """Results as JSON, with the non-finite floats JSON has no word for (a rejection where no
    background passed) written as null."""
    import json
    import math

    def finite(item):
        if isinstance(item, dict):
            return {k: finite(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [finite(v) for v in item]
        if isinstance(item, float) and not math.isfinite(item):
            return None
        return item

    return json.dumps(finite(results), indent=1, allow_nan=False)


def non_negative(text: str) -> int:
    """argparse type: an integer >= 0 (seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive(text: str) -> int:
    """argparse type: an integer >= 1 (counts)."""
    value = non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def run_parser(prog: str, description: str, configs, data_help: str, out_help: str, run_help: str,
               limit_help: str = "use the first LIMIT jets"):
    """The parser of a reference's `run` command and the `run` subparser, with what every one has:
    --data, --out, --config (small by default), --seed, --limit."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    run = parser.add_subparsers(dest="command", required=True).add_parser("run", help=run_help)
    run.add_argument("--data", required=True, help=data_help)
    run.add_argument("--out", required=True, help=out_help)
    run.add_argument("--config", choices=sorted(configs), default="small")
    run.add_argument("--seed", type=non_negative, default=0)
    run.add_argument("--limit", type=positive, default=None, help=limit_help)
    return parser, run


def entry_point(body) -> int:
    """Run an entry point's body; a DataError or a file-system error is one line on stderr and exit 2."""
    try:
        body()
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
