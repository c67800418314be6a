"""The `l1forge` command line. Command groups of upper layers (models: data, train, demo) plug in
through the `l1forge.commands` entry-point group, so this module imports nothing above `compiler`.

Errors are one line on stderr with a non-zero exit; `--debug` shows the traceback.
"""
from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from .errors import L1ForgeError

app = typer.Typer(name="l1forge", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Compile quantized physics networks into bit-exact FPGA firmware.")


def _register_plugins() -> None:
    for ep in sorted(entry_points(group="l1forge.commands"), key=lambda e: e.name):
        obj = ep.load()
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        else:
            app.command(name=ep.name)(obj)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user error becomes one line on stderr and exit code 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    _register_plugins()
    try:
        app(args=argv, prog_name="l1forge")  # standalone: usage errors print and exit by themselves
    except L1ForgeError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
