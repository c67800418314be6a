"""The report's JSON Schema: shipped in the package, met by what l1forge writes (every compile
checks its report before writing it), and enforced on reports read back."""
import copy
import json

import pytest

from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.report import schema_errors, validate_report
from l1forge.hw.report.compare import load_report
from l1forge.hw.report.schema import SCHEMA_FILE

from tests.graphs import per_particle_dense


@pytest.fixture(scope="module")
def unverified_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "fw"
    compile_model(per_particle_dense(), out, verify_firmware=False, log=lambda m: None)
    return out


def test_schema_file_is_a_valid_draft_2020_12_schema():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "l1forge.report/1"


@pytest.mark.tools
def test_a_written_report_conforms_and_reads_back(unverified_report):
    report = load_report(unverified_report)
    assert schema_errors(report) == []
    assert report["verification"] == {"status": "unverified"}


@pytest.mark.parametrize("break_it,where", [
    (lambda r: r["latency"].pop("source"), "latency"),
    (lambda r: r.update(backend="vivado"), "backend"),
    (lambda r: r["layers"][1].pop("class"), "layers/1"),
    (lambda r: r["verification"].update(status="bit-exact"), "verification"),  # without its counts
    (lambda r: r["tensor_types"].update(x="float32"), "tensor_types/x"),
])
@pytest.mark.tools
def test_broken_reports_are_refused_naming_the_place(unverified_report, tmp_path, break_it, where):
    report = copy.deepcopy(load_report(unverified_report))
    break_it(report)
    errors = schema_errors(report)
    assert errors and errors[0].startswith(where), errors
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(report))
    with pytest.raises(L1ForgeError, match=f"report.json does not match the report schema l1forge.report/1: {where}"):
        load_report(folder)
    with pytest.raises(L1ForgeError, match="does not match"):
        validate_report(report, "this report")
