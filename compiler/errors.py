"""The one error type users see: a one-line message, printed without a traceback by the CLI."""


class L1ForgeError(Exception):
    """A user-facing error: the message says what is wrong, where, and what to do."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM during a command (raised by the CLI's handlers): a BaseException, so
    that no `except Exception` swallows it while every `finally` (staging folders, child
    processes) still runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
