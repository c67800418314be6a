"""Running a sweep's points as Ray tasks: a local Ray by default (one task per core), or an
existing cluster joined by address; the same code for both.

Each point is one task declaring its resources (cpus, memory). The data files travel through
Ray's object store (no shared file system needed) and each finished point returns its folder as a
packed archive, which the driver unpacks into OUT/points/KEY and records in the store. A worker
that dies (killed, out of memory) is replaced by Ray and its point retried, up to `retries` times;
a point that fails by its own error (a user error, a verification failure) is recorded with its
one-line error and not retried unless asked. Interrupting the driver keeps every finished point.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

from l1forge.compiler.errors import Interrupted, L1ForgeError

from .point import pack, run_point, unpack
from .spec import SweepSpec, file_digest, point_key, short
from .store import SweepStore

GB = 1 << 30


def run_sweep(spec: SweepSpec, out: Path, address: str | None = None, workers: int | None = None,
              retry_failed: bool = False, console=None) -> dict:
    """Run every point of `spec` not yet done into `out` (sweep.sqlite, points/KEY/); returns
    {"keys": the spec's point keys in order, "rows": their store rows, "ran", "done", "failed", "wall_s"}."""
    out = Path(out)
    if address:
        _check_reachable(address)  # before anything is written: Ray itself retries an absent head for minutes
    if out.exists() and not out.is_dir():
        raise L1ForgeError(f"--out {out} is a file; give a folder for the sweep")
    out.mkdir(parents=True, exist_ok=True)
    with _driver_lock(out):
        store = SweepStore(out / "sweep.sqlite")
        try:
            return _run(spec, out, store, address, workers, retry_failed, console)
        finally:
            store.close()


def _run(spec, out, store, address, workers, retry_failed, console) -> dict:
    points = spec.points()
    digest = file_digest(spec.data)
    keys = [point_key(p, digest) for p in points]
    todo = []
    for key, point in zip(keys, points):
        store.add(key, point)
        row = store.get(key)
        if row["status"] == "done" and (out / "points" / key).is_dir():
            continue
        if row["status"] == "failed" and not retry_failed:
            continue
        store.reset(key)  # pending, left running by an interrupted driver, failed and retried, or lost folder
        todo.append((key, point))
    _say(console, f"{len(points)} points: {len(points) - len(todo)} already in {out / 'sweep.sqlite'}, "
                  f"{len(todo)} to run")
    t0 = time.perf_counter()
    if todo:
        _execute(spec, out, store, todo, digest[:16], address, workers, console)
    rows = store.rows(keys)
    return {"keys": keys, "rows": rows, "ran": len(todo), "done": sum(r["status"] == "done" for r in rows),
            "failed": sum(r["status"] == "failed" for r in rows), "wall_s": round(time.perf_counter() - t0, 1)}


def _execute(spec, out, store, todo, digest, address, workers, console) -> None:
    import ray

    _start_ray(ray, address, workers, data_bytes=sum(p.stat().st_size for p in spec.data))
    running: dict = {}
    try:
        _check_fits(ray, spec.resources)
        data = ray.put({p.name: p.read_bytes() for p in spec.data})
        tracker = ray.remote(num_cpus=0)(_Tracker).remote()
        task = ray.remote(_point_task).options(num_cpus=spec.resources["cpus"],
                                               memory=int(spec.resources["memory_gb"] * GB),
                                               max_retries=spec.retries, retry_exceptions=False)
        labels = {key: short(point, list(spec.axes)) for key, point in todo}
        running = {task.remote(tracker, key, point, data, digest): key for key, point in todo}
        with _Progress(console, len(todo)) as progress, _signals_noted() as caught:
            while running:
                if caught:  # checked here, between waits: Ray's C++ wait cannot carry an exception out
                    raise Interrupted(caught[0])
                ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for key, attempt, worker, when in ray.get(tracker.drain.remote()):
                    store.started(key, attempt, worker, when)
                    if attempt > 1:
                        progress.say(f"retry {attempt - 1} of {labels[key]} (its worker died)")
                for ref in ready:
                    key = running.pop(ref)
                    _record(ray, ref, key, labels[key], out, store, progress)
                progress.update(running=sum(store.get(k)["status"] == "running" for k in running.values()))
    except BaseException:  # interrupted (SIGINT/SIGTERM) or a failure of the engine: keep what finished
        for ref, key in running.items():
            ray.cancel(ref, force=True)
            store.reset(key)
        raise
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _signals_noted():
    """SIGINT and SIGTERM noted in a list instead of raised, for the loop to act on."""
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _record(ray, ref, key, label, out, store, progress) -> None:
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as exc:  # the worker died more often than `retries` allows
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        store.failed(key, error[:500])
        progress.point(failed=True, line=f"failed {label}: {error[:200]}")
        return
    if result["status"] == "done":
        unpack(result["archive"], out / "points" / key)
        store.finished(key, result["metrics"], result["seconds"])
        m = result["metrics"]
        progress.point(failed=False, line=f"done   {label}: accuracy {m['accuracy']:.4f}, {_num(m['LUT'])} LUT, "
                                          f"{_num(m['latency_ns'])} ns [{result['seconds']:.0f} s]")
    else:
        store.failed(key, result["error"], result["seconds"])
        progress.point(failed=True, line=f"failed {label}: {result['error']}")


def _num(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:g}"


def _start_ray(ray, address, workers, data_bytes: int) -> None:
    """Join the cluster at `address`, or start a local Ray of `workers` CPUs whose object store
    holds the data twice over (it goes out once, with room for the points' returned archives)."""
    import logging

    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", num_cpus=workers or os.cpu_count() or 1,
                     object_store_memory=256 * 2**20 + 2 * data_bytes, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise L1ForgeError(f"cannot start {where}: {str(exc).strip().splitlines()[0]}") from None


def _check_reachable(address: str) -> None:
    """Refuse a HOST:PORT where nothing listens (`auto` and ray:// addresses are left to Ray)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise L1ForgeError(f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); start one "
                           f"with `ray start --head` or leave --address out for a local Ray") from None


def _check_fits(ray, resources: dict) -> None:
    """Refuse a spec whose point fits on no node (Ray would wait for it forever)."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(r.get("CPU", 0) >= resources["cpus"] and r.get("memory", 0) >= resources["memory_gb"] * GB
               for r in nodes):
        have = ", ".join(f"{r.get('CPU', 0):g} cpus {r.get('memory', 0) / GB:.1f} GB" for r in nodes)
        raise L1ForgeError(f"no node of the cluster has {resources['cpus']:g} cpus and {resources['memory_gb']:g} "
                           f"GB for a point (nodes: {have}); lower resources in the spec")


class _Tracker:
    """A Ray actor the tasks report their start to: attempts per point and who runs it."""

    def __init__(self):
        self.attempts, self.events = {}, []

    def started(self, key: str, worker: str, when: float) -> None:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.events.append((key, self.attempts[key], worker, when))

    def drain(self) -> list:
        events, self.events = self.events, []
        return events


def _point_task(tracker, key: str, point: dict, data: dict, digest: str) -> dict:
    """The Ray task of one point (runs on any node): report the start, write the data files into
    this node's temporary folder once, run the point in a temporary folder, return its metrics and
    its packed folder, or its one-line error."""
    import ray

    worker = f"pid {os.getpid()} on {socket.gethostname()} node {ray.get_runtime_context().get_node_id()[:12]}"
    # not awaited: a task blocked in ray.get lends its CPU to another task (one point too many runs)
    tracker.started.remote(key, worker, time.time())
    files = _node_copy(data, digest)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"l1forge-point-{key}-") as tmp:
        try:
            metrics = run_point(point, files, Path(tmp))
        except L1ForgeError as exc:
            return {"status": "failed", "error": str(exc), "seconds": round(time.perf_counter() - t0, 1)}
        except Exception as exc:  # recorded as the point's error; the sweep goes on with the others
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return {"status": "failed", "error": f"{type(exc).__name__}: {text}"[:500],
                    "seconds": round(time.perf_counter() - t0, 1)}
        return {"status": "done", "metrics": metrics, "archive": pack(Path(tmp)),
                "seconds": round(time.perf_counter() - t0, 1)}


def _node_copy(data: dict, digest: str) -> list[Path]:
    from l1forge.compiler.atomic import write_atomic

    folder = Path(tempfile.gettempdir()) / "l1forge-sweep-data" / digest
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, content in data.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != len(content):
            write_atomic(path, content)
        files.append(path)
    return files


class _driver_lock:
    """One driver per sweep folder: a second one fails at once instead of racing on the store."""

    def __init__(self, out: Path):
        self.path = out / ".sweep.lock"

    def __enter__(self):
        self.file = open(self.path, "w")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise L1ForgeError(f"{self.path.parent}: another `l1forge sweep` is running into this folder") from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def _say(console, line: str) -> None:
    if console is not None:
        console.print(line, highlight=False, soft_wrap=True)


class _Progress:
    """A live bar: points done, running and failed, and the time left; one line per finished point."""

    def __init__(self, console, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = console
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[state]}"), TimeRemainingColumn(), console=console,
                            disable=console is None)
        self.task = self.bar.add_task("sweep", total=total, state="")
        self.counts = {"done": 0, "failed": 0, "running": 0}

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def update(self, running: int) -> None:
        self.counts["running"] = running
        c = self.counts
        self.bar.update(self.task, state=f"{c['done']} done, {c['running']} running, {c['failed']} failed")

    def point(self, failed: bool, line: str) -> None:
        self.counts["failed" if failed else "done"] += 1
        self.bar.advance(self.task)
        self.say(line)

    def say(self, line: str) -> None:
        if self.console is not None:
            self.bar.console.print(line, highlight=False, soft_wrap=True)
