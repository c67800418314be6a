"""Atomic outputs: a file or folder appears whole under its name or not at all (readers never see
half of it, a failure leaves nothing half-written behind)."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import L1ForgeError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary sibling of `path` to write in the block; renamed onto `path` (with the normal
    permissions of a new file) when the block succeeds, removed when it fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write a file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def copy_atomic(src: str | Path, dst: str | Path) -> None:
    """Copy a file atomically."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _claim(lock: Path, out: Path) -> None:
    """Create `lock` (holding this pid) or fail naming the live process that holds it; a lock
    left by a process that is gone is taken over."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise L1ForgeError(f"another l1forge compile (pid {pid}) is writing {out}; wait for it or choose "
                                   "another --out") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        return
    raise L1ForgeError(f"{out}: could not take the lock {lock.name}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_folder(out: str | Path, replaceable=lambda folder: True) -> Iterator[Path]:
    """A staging folder beside `out` to fill in the block; it replaces `out` when the block
    succeeds and is removed when it fails (an existing `out` is then untouched). An existing
    non-empty `out` is replaced only if replaceable(out); a file is never replaced. A lock file
    beside `out` makes a second writer of the same folder fail at once."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise L1ForgeError(f"{out} is a file; --out takes a folder")
    if out.is_dir() and any(out.iterdir()) and not replaceable(out):
        raise L1ForgeError(f"{out} exists and is not an l1forge build; choose another folder or remove it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = out.parent / f".{out.name}.lock"
        _claim(lock, out)
    except OSError as exc:
        raise L1ForgeError(f"cannot write in {out.parent} ({exc.strerror})") from None
    staging, old = (out.parent / f".{out.name}.{what}-{os.getpid()}" for what in ("partial", "old"))
    try:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir()
        except OSError as exc:
            raise L1ForgeError(f"cannot write in {out.parent} ({exc.strerror})") from None
        yield staging
        if out.exists():
            os.replace(out, old)  # kept until the new folder is in place
        try:
            os.replace(staging, out)
        except BaseException:
            if old.exists():
                os.replace(old, out)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        lock.unlink(missing_ok=True)
