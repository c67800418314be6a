"""hls4ml backend details: explicit types, the default-precision check, narrow quantizers."""
import pytest

from l1forge.compiler.backends.hls4ml.emit import HlsProject, hls_config, hls_layer_list
from l1forge.compiler.errors import L1ForgeError
from l1forge.compiler.passes.canonicalize import canonicalize
from l1forge.compiler.pipeline import compile_model

from tests.graphs import channels_first_pooling, make_model, per_particle_dense, quant_node


def test_every_layer_type_is_set_explicitly(tmp_path):
    from hls4ml.model.graph import ModelGraph

    layers = hls_layer_list(canonicalize(per_particle_dense()))
    config = hls_config(layers, tmp_path, "xcvu13p-flga2577-2-e", 5.0, "Vitis", 1)
    HlsProject(ModelGraph.from_layer_list(config, [l.spec for l in layers]), layers, tmp_path).check_types()


def test_a_layer_left_to_the_default_precision_is_caught(tmp_path):
    from hls4ml.model.graph import ModelGraph

    layers = hls_layer_list(canonicalize(per_particle_dense()))
    layers[1].precision.pop("result")  # the Dense's output type now comes from the model default
    config = hls_config(layers, tmp_path, "xcvu13p-flga2577-2-e", 5.0, "Vitis", 1)
    project = HlsProject(ModelGraph.from_layer_list(config, [l.spec for l in layers]), layers, tmp_path)
    with pytest.raises(L1ForgeError, match="fell back to the default precision"):
        project.check_types()


def test_pooling_layers_get_exact_accumulators():
    layers = hls_layer_list(canonicalize(channels_first_pooling("GlobalAveragePool", n=8)))
    pool = layers[-1]
    assert pool.spec["class_name"] == "GlobalAveragePooling1D"
    # input sfix<8,4>: the sum of 8 needs 3 more integer bits, the mean 3 more fractional bits
    assert pool.precision == {"accum": "ap_fixed<14,7>", "result": "ap_fixed<11,4>"}


@pytest.mark.tools
def test_narrow_signed_activation_saturates_symmetrically(tmp_path):
    inits = []
    nodes = [quant_node(inits, "q_in", "x", "xq", 2.0**-4, 8),
             quant_node(inits, "q_narrow", "xq", "y", 2.0**-2, 4, signed=1, narrow=1)]
    model = make_model(nodes, inits, [1, 16], [1, 16])
    layers = hls_layer_list(canonicalize(make_model(nodes, inits, [1, 16], [1, 16])))
    assert layers[-1].precision["result"] == "ap_fixed<4,2,AP_RND_CONV,AP_SAT_SYM>"
    report = compile_model(model, tmp_path / "fw", n_random=3000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact"


def test_per_particle_dense_keeps_its_bias_through_hls4ml(tmp_path):
    """FACTS trap: hls4ml's ReplaceMultidimensionalDenseWithConv dropped a fused bias and the
    weight quantizer on the ONNX route. On l1forge's route the Dense on (particles, features)
    becomes hls4ml's pointwise Conv1D with our bias and our explicit types."""
    import numpy as np
    from hls4ml.model.graph import ModelGraph

    model = canonicalize(per_particle_dense())
    layers = hls_layer_list(model)
    config = hls_config(layers, tmp_path, "xcvu13p-flga2577-2-e", 5.0, "Vitis", 1)
    graph = ModelGraph.from_layer_list(config, [l.spec for l in layers])
    conv = [l for l in graph.get_layers() if l.name == layers[1].spec["name"]][0]
    assert "Conv1D" in conv.class_name
    np.testing.assert_array_equal(conv.weights["bias"].data.ravel(), layers[1].spec["bias_data"])
    assert np.any(layers[1].spec["bias_data"] != 0)
    import re
    width, integer = map(int, re.match(r"ap_fixed<(\d+),(-?\d+)", layers[1].precision["weight"]).groups())
    p = conv.weights["weight"].type.precision
    assert (p.width, p.integer, p.signed) == (width, integer, True)


@pytest.mark.tools
def test_a_wrong_layer_type_is_caught_and_named(tmp_path):
    """Co-simulation fails on a firmware that differs, naming the first diverging layer."""
    from hls4ml.model.graph import ModelGraph

    from l1forge.hw.sim.cosim import cosimulate
    from l1forge.hw.sim.hls_csim import HlsCSimulator

    model = canonicalize(per_particle_dense())
    layers = hls_layer_list(model)
    dense = layers[1]
    dense.precision["result"] = dense.precision["accum"] = "ap_fixed<6,3>"  # far too narrow: wraps
    config = hls_config(layers, tmp_path, "xcvu13p-flga2577-2-e", 5.0, "Vitis", 1)
    project = HlsProject(ModelGraph.from_layer_list(config, [l.spec for l in layers]), layers, tmp_path)
    result = cosimulate(model, HlsCSimulator(project), n_random=2000)
    assert not result.bit_exact
    assert result.mismatches["firmware_vs_emulator"] > 100 and result.mismatches["emulator_vs_qonnx"] == 0
    assert result.first_divergent_layer == dense.spec["name"]
    assert "first differs at index" in result.detail


@pytest.mark.tools
def test_compiled_project_reopens_with_hls4ml_and_predicts_like_the_emulator(tmp_path):
    """hls4ml_config.yml names the folder the project ends up in, not the staging folder."""
    import hls4ml
    import numpy as np

    from l1forge.compiler.ir.emulator import emulate
    from l1forge.hw.sim.cosim import grid_inputs

    out = tmp_path / "fw"
    compile_model(per_particle_dense(), out, n_random=200, log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fw"]
    linked = hls4ml.converters.link_existing_project(str(out / "hls4ml_prj"))
    linked.compile()
    model = canonicalize(per_particle_dense())
    x = grid_inputs(model, 2000, seed=9)
    y = np.asarray(linked.predict(np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)))
    np.testing.assert_array_equal(y.reshape(len(x), -1), emulate(model, x).reshape(len(x), -1))


@pytest.mark.tools
@pytest.mark.parametrize("dynamo", [True, False])
def test_report_names_layers_as_the_user_did(tmp_path, dynamo):
    from l1forge.models.taggers import TaggerConfig, build_tagger
    from l1forge.models.train import export_qonnx_model

    cfg = TaggerConfig(model="deepsets", n_constituents=8, n_features=3, pool="mean", phi=(8, 8), rho=(8,))
    path = export_qonnx_model(build_tagger(cfg), cfg, tmp_path / "model.onnx", dynamo=dynamo)
    report = compile_model(path, tmp_path / "fw", verify_firmware=False, log=lambda m: None)
    named = {l["name"]: l.get("source_layers") for l in report["layers"]}
    assert named["x_in"] == ["input_quant"]
    assert [named[f"MatMul_{i}"] for i in range(4)] == [["phi.layers.0"], ["phi.layers.2"], ["rho.layers.0"], ["out"]]
    assert [named[f"Relu_{i}"] for i in range(3)] == [["phi.layers.1"], ["phi.layers.3"], ["rho.layers.1"]]
    md = (tmp_path / "fw" / "report.md").read_text()
    html = (tmp_path / "fw" / "report.html").read_text()
    assert "| phi.layers.0 (MatMul_0) | Dense |" in md
    assert "<td>phi.layers.2 (MatMul_1)</td>" in html


AP_TYPES_PROGRAM = """#include "ap_fixed.h"
#include <iostream>
int main() {{
    ap_fixed<10,4> x = -1.5;  // W 10, F 6
    {source} s = x;
    ap_fixed<6,36,AP_RND_CONV,AP_SAT> y = s;  // F -30: the rounding bit lies 36 bits above x's last bit
    std::cout << y.to_double() << std::endl;
}}
"""


@pytest.mark.tools
def test_ap_types_rounding_cast_beyond_the_msb_is_pinned(tmp_path):
    """hls4ml's ap_types abort a rounding cast whose target's last bit lies more than the source's
    width above the source's last bit (an assertion in ap_private::get_bit; found by the fuzzer:
    it killed the C simulation's Python process). The same cast from the source widened on its own
    grid works, which the lowering emits. If the first assertion fails, ap_types fixed it and
    lowering._widen_cast_sources can go."""
    import subprocess
    from pathlib import Path

    import hls4ml

    include = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    outcomes = {}
    for name, source in (("narrow", "ap_fixed<10,4>"), ("widened", "ap_fixed<36,30>")):
        (tmp_path / f"{name}.cpp").write_text(AP_TYPES_PROGRAM.format(source=source))
        subprocess.run(["g++", "-O0", f"-I{include}", str(tmp_path / f"{name}.cpp"), "-o", str(tmp_path / name)],
                       check=True, capture_output=True)
        outcomes[name] = subprocess.run([str(tmp_path / name)], capture_output=True, text=True)
    assert outcomes["narrow"].returncode != 0 and "Attempting to read bit beyond MSB" in outcomes["narrow"].stderr
    assert outcomes["widened"].returncode == 0 and float(outcomes["widened"].stdout) == 0.0  # -1.5 rounds to 0


@pytest.mark.tools
@pytest.mark.parametrize("relu,mode", [(True, "ROUND"), (False, "HALF_UP"), (False, "DOWN")])
def test_requantization_far_above_the_source_grid_compiles(relu, mode, tmp_path):
    """A Quant whose grid (2**34) lies far above every value it reads (the fuzzer's case: extreme
    weight scales): the cast's source is widened, relu keeps its int 0 apart, bit-exact."""
    from tests.graphs import signed_requant

    model = per_particle_dense() if relu else signed_requant(mode)
    for init in model.graph.initializer:
        if init.name in ("q_act_s", "q_out_s"):
            init.float_data[:] = [2.0**34]
    for node in model.graph.node:
        for a in node.attribute:
            if node.name in ("q_act", "q_out") and a.name == "rounding_mode":
                a.s = mode.encode()
    report = compile_model(model, tmp_path / "fw", n_random=3000, log=lambda m: None)
    assert report["verification"]["status"] == "bit-exact" and report["verification"]["samples"] == 3000
