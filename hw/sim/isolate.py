"""Run a function in a forked child process, so that native code which aborts or crashes (a C++
assertion in a simulation library loaded with ctypes) ends the child, not l1forge: the caller
gets the result, or ChildCrashed with the signal and the child's last stderr line."""
from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import sys
import tempfile


class ChildCrashed(Exception):
    def __init__(self, how: str, last_line: str):
        super().__init__(f"{how}{': ' + last_line if last_line else ''}")
        self.how, self.last_line = how, last_line


def _child(conn, stderr_path: str, fn, args) -> None:
    fd = os.open(stderr_path, os.O_WRONLY)
    os.dup2(fd, 2)  # the native code's own messages (an assertion) go to the file the parent reads
    os.close(fd)
    faulthandler.disable()  # a crash is reported by the parent, not dumped on the user's terminal
    torch = sys.modules.get("torch")
    if torch is not None:  # libgomp is not fork-safe: a child entering the parent's OpenMP pool waits forever
        torch.set_num_threads(1)
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # the parent re-raises it
        conn.send(("raised", exc))
    finally:
        conn.close()


def run_isolated(fn, *args, timeout: float | None = None):
    """fn(*args) computed in a forked child; its exception is raised here. ChildCrashed when the
    child dies without an answer (killed by a signal, or past `timeout` seconds)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile(prefix="l1forge-child-", suffix=".stderr") as err:
        process = context.Process(target=_child, args=(send, err.name, fn, args))
        process.start()
        send.close()
        answer, timed_out = None, False
        try:
            if receive.poll(timeout):
                answer = receive.recv()
            else:
                timed_out = True
        except EOFError:  # the child died without answering
            pass
        finally:
            receive.close()
            if answer is None and process.is_alive():
                process.kill()
            process.join()
        if answer is not None:
            kind, value = answer
            if kind == "raised":
                raise value
            return value
        code = process.exitcode
        how = (f"over {timeout} s" if timed_out else f"killed by {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
        lines = [line for line in open(err.name, errors="replace").read().splitlines() if line.strip()]
        raise ChildCrashed(how, lines[-1].strip()[:300] if lines else "")
