"""The generator ops through both backends: a gated product (ConcatSquash's (W x) * sigmoid(.) + h)
with a sigmoid table, and a chain of table functions, compile bit-exact through hls4ml's C
simulation and through Verilator (the RTL's lookup ROMs read their memory files), and the
report lists every table with its size and error; the hls4ml project reopens with hls4ml."""
import numpy as np
import pytest

from l1forge.compiler.pipeline import compile_model

from tests.graphs import gated_product, quantized_function

pytestmark = pytest.mark.tools


@pytest.mark.parametrize("backend", ["hls4ml", "rtl"])
def test_gated_product_is_bit_exact(backend, tmp_path):
    x = (np.random.default_rng(1).integers(-128, 128, (10000, 4)) / 16.0).astype(np.float32)
    report = compile_model(gated_product(), tmp_path / "b", backend=backend, data=x, log=lambda *a: None)
    v = report["verification"]
    assert v["bit_exact"] and v["samples"] == 12000 and set(v["mismatches"].values()) == {0}
    (table,) = report["tables"]
    assert table["function"] == "sigmoid" and table["entries"] == 256 and 0 < table["max_error"] <= 2.0**-8
    assert "| sigmoid | 256 |" in (tmp_path / "b" / "report.md").read_text()
    if backend == "rtl":
        assert report["resources"]["source"].startswith("yosys") and report["resources"]["LUT"] > 0
    else:
        import hls4ml

        reopened = hls4ml.converters.link_existing_project(str(tmp_path / "b" / "hls4ml_prj"))
        reopened.compile()
        # the reopened project computes the same outputs as the verified build
        from l1forge.compiler.ir.emulator import emulate
        from l1forge.compiler.passes.canonicalize import canonicalize

        q = np.clip(np.round(x[:500] * 16), -128, 127) / 16
        out = np.asarray(reopened.predict(np.ascontiguousarray(q))).reshape(500, -1)
        np.testing.assert_array_equal(out, emulate(canonicalize(gated_product()), q).reshape(500, -1))


@pytest.mark.parametrize("backend", ["hls4ml", "rtl"])
@pytest.mark.parametrize("op,kw", [("Tanh", {}), ("Sigmoid", {"silu": True, "out_scale": 2.0**-5})])
def test_table_functions_compile_bit_exact(backend, op, kw, tmp_path):
    report = compile_model(quantized_function(op, **kw), tmp_path / "b", backend=backend, log=lambda *a: None)
    assert report["verification"]["bit_exact"] and report["verification"]["samples"] == 2000
    assert report["tables"][0]["entries"] == 256
