"""Data generation on all cores: fixed work chunks run in spawned worker processes, results
returned in plan order (so the output never depends on the core count), a progress bar, and the
per-user cache of generated files the generators share."""
from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from l1forge.compiler.quiet import silenced_stdout

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def cache_dir() -> Path:
    """Where generated data sets are cached ($L1FORGE_CACHE, default ~/.cache/l1forge)."""
    return Path(os.environ.get("L1FORGE_CACHE", Path.home() / ".cache" / "l1forge"))


def from_cache(kind: str, key: str, out: str | Path, make: Callable[[Path], object]) -> tuple[Path, bool, object]:
    """`out` as a copy of the cached file cache_dir()/kind/key.h5, made first by make(path) when
    missing. Returns (cached path, whether it was there, what make returned or None)."""
    from l1forge.compiler.atomic import copy_atomic

    cached = cache_dir() / kind / f"{key}.h5"
    hit, made = cached.exists(), None
    if not hit:
        cached.parent.mkdir(parents=True, exist_ok=True)
        made = make(cached)
    out = Path(out)
    if out.resolve() != cached.resolve():
        out.parent.mkdir(parents=True, exist_ok=True)
        copy_atomic(cached, out)
    return cached, hit, made


@contextmanager
def single_threaded_children():
    """One BLAS thread per worker: the workers already fill the cores (2-3x faster than letting
    each worker's numpy start a thread per core)."""
    saved = {k: os.environ.get(k) for k in BLAS_THREAD_VARIABLES}
    os.environ.update({k: "1" for k in BLAS_THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Worker:
    """A picklable call of `work` on one indexed chunk, with the worker's stdout silenced (Pythia
    and FastJet print banners)."""

    def __init__(self, work: Callable):
        self.work = work

    def __call__(self, item: tuple[int, tuple]):
        index, args = item
        with silenced_stdout():
            return index, self.work(*args)


def iter_chunks(plan: Sequence[tuple], work: Callable, *, label: str, total: int, size: Callable[[tuple], int],
                workers: int | None = None, progress: bool = True) -> Iterator:
    """Yield work(*args) for every args of the plan, in plan order, computed on `workers` processes
    (default: all cores) while the caller consumes them.

    `work` must be a module-level function (workers are spawned); size(args) is how much of
    `total` one chunk advances the progress bar.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    worker = _Worker(work)
    workers = max(1, min(workers or os.cpu_count() or 1, len(plan)))
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(label, total=total)
        if workers == 1:
            for index, result in map(worker, enumerate(plan)):
                bar.advance(task, size(plan[index]))
                yield result
        else:
            with single_threaded_children(), multiprocessing.get_context("spawn").Pool(workers) as pool:
                for index, result in pool.imap(worker, enumerate(plan)):
                    bar.advance(task, size(plan[index]))
                    yield result
