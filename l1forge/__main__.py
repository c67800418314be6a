"""`python -m l1forge ...` is the `l1forge` command."""
from l1forge.compiler.cli import run

run()
