"""Keep dependencies' stdout chatter (C++ banners, g++ logs, progress prints) off the terminal."""
from __future__ import annotations

import contextlib
import io
import os


@contextlib.contextmanager
def silenced_stdout():
    """Send file descriptor 1 (C/C++ prints) and Python's sys.stdout to nowhere for the block."""
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
