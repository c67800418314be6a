"""The report's JSON Schema (report.schema.json, shipped in the package): every report l1forge
writes is checked against it, and so is every report it reads back."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from l1forge.compiler.errors import L1ForgeError

SCHEMA = "l1forge.report/1"
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(report: dict) -> list[str]:
    """Every place where `report` breaks the schema, as 'path: message' (empty when it conforms)."""
    errors = sorted(_validator().iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def validate_report(report: dict, what: str) -> None:
    """L1ForgeError naming the first violation (and how many there are) unless `report` conforms."""
    errors = schema_errors(report)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise L1ForgeError(f"{what} does not match the report schema {SCHEMA}: {errors[0]}{more}")
