"""Keep dependencies' chatter (C++ banners, g++ logs, progress prints, TensorFlow's start-up
logs) off the terminal."""
from __future__ import annotations

import contextlib
import io
import os
import sys


@contextlib.contextmanager
def _silenced(fd: int, stream: str):
    """Send file descriptor fd (C/C++ prints) and the Python stream sys.<stream> to nowhere."""
    saved = os.dup(fd)
    getattr(sys, stream).flush()
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
    redirect = contextlib.redirect_stdout if stream == "stdout" else contextlib.redirect_stderr
    try:
        with redirect(io.StringIO()):
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def silenced_stdout():
    """Standard output (fd 1 and sys.stdout) to nowhere for the block."""
    return _silenced(1, "stdout")


def silenced_stderr():
    """Standard error (fd 2 and sys.stderr) to nowhere for the block: only around steps whose
    failures surface as exceptions anyway (TensorFlow's import, hls4ml's project writer)."""
    return _silenced(2, "stderr")
