"""The one error type users see: a one-line message, printed without a traceback by the CLI."""


class L1ForgeError(Exception):
    """A user-facing error: the message says what is wrong, where, and what to do."""
