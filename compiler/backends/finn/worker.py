"""The FINN side of the finn backend: run by the FINN environment's Python (`.venv-finn`, whose
pins clash with l1forge's), never imported by l1forge. It imports only FINN, qonnx and numpy.

    python worker.py build REQUEST.json     # lowered graph -> HW layers, folding, estimates, HLS/RTL
    python worker.py execute REQUEST.json   # FINN's python execution of the HW graph on codes (and the
                                            # streams of the stitched graph's RTL layers)
    python worker.py synth REQUEST.json     # Vivado: HLS synthesis, stitched IP, out-of-context P&R

Each command writes a JSON answer to the request's "answer" path: {"ok": true, ...} or
{"ok": false, "error": one line naming the node}. FINN's own messages go to the log file.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HW_DOMAIN = "finn.custom_op.fpgadataflow"


class Refused(Exception):
    """A graph FINN cannot map, said in one line."""


def _convert_to_hw(model):
    """FINN's own conversions to HW layers: MatMul (+ MultiThreshold) -> MVAU, standalone
    MultiThreshold -> Thresholding, Add of a constant -> ElementwiseAdd, MaxPoolNHWC -> sliding
    window generator + Pool (sum pooling arrives as FINN's GlobalAccPool already), Transpose ->
    inner and outer shuffles, Concat -> StreamingConcat, a tensor read twice -> DuplicateStreams."""
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
        InferElementwiseBinaryOperation)
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation)
    from finn.transformation.fpgadataflow.convert_to_hw.shuffle import InferShuffle
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.fpgadataflow.transpose_decomposition import (InferInnerOuterShuffles,
                                                                          ShuffleDecomposition)

    model = model.transform(InferShapes())
    # every Transpose is a set turned into channels (InferShuffle skips a graph's first node by default)
    for transformation in (InferShuffle(lambda m, n: True), InferPool(), InferConvInpGen(),
                           InferQuantizedMatrixVectorActivation(), InferThresholdingLayer(),
                           InferElementwiseBinaryOperation(), InferConcatLayer(), InferDuplicateStreamsLayer(),
                           # shuffles split into the inner/outer ones FINN implements, before the graph is saved
                           # for python execution, so that every tensor of the stitched graph has a value
                           ShuffleDecomposition(), InferInnerOuterShuffles(), GiveUniqueNodeNames()):
        model = model.transform(transformation)
    model = model.transform(InferDataTypes())
    unmapped = [n for n in model.graph.node if n.domain != HW_DOMAIN]
    if unmapped:
        n = unmapped[0]
        raise Refused(f"FINN mapped no hardware layer for node {n.name} ({n.op_type}); "
                      f"{len(unmapped)} node(s) left unmapped")
    return model


def _node_table(model, cycles: dict, resources: dict) -> list[dict]:
    from qonnx.custom_op.registry import getCustomOp

    rows = []
    for n in model.graph.node:
        inst = getCustomOp(n)
        folding = {k: inst.get_nodeattr(k) for k in ("PE", "SIMD") if k in inst.get_nodeattr_types()}
        rows.append({"name": n.name, "op": n.op_type, "output": n.output[0], "folding": folding,
                     "cycles": int(cycles.get(n.name, 0)),
                     "resources": {k: float(v) for k, v in resources.get(n.name, {}).items()}})
    return rows


def build(req: dict) -> dict:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    out = Path(req["folder"])
    timings = {}
    t = time.perf_counter()
    hw = _convert_to_hw(ModelWrapper(req["lowered"]))
    hw.save(str(out / "hw_layers.onnx"))  # what FINN's python execution runs (before specialization)
    timings["finn_convert_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for node in hw.graph.node:  # weights as constants in logic, not streamed from memory (the trigger's way)
        if node.op_type == "MVAU":
            inst = getCustomOp(node)
            inst.set_nodeattr("mem_mode", req["mem_mode"])
            if req["mem_mode"] == "internal_embedded":
                # FINN's RTL MVU cannot hold its weights: SpecializeLayers would still pick it for a layer
                # without thresholds and leave its weight stream unconnected (a FINN defect, pinned in the tests)
                inst.set_nodeattr("preferred_impl_style", "hls")
    special = hw.transform(SpecializeLayers(req["part"]))
    folded = special.transform(SetFolding(target_cycles_per_frame=int(req["target_cycles"]), two_pass_relaxation=True,
                                          mvau_wwidth_max=int(req["max_weight_stream_bits"])))
    folded = _stitch_ready(folded, req["part"])
    cycles = exp_cycles_per_layer(folded)
    resources = res_estimation(folded, req["part"])
    timings["finn_fold_and_estimate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    _generate_code(folded, out, req)
    timings["finn_codegen_s"] = time.perf_counter() - t
    return {"layers": _node_table(folded, cycles, resources), "timings": timings}


def _stitch_ready(model, part: str):
    """What FINN's builder adds before stitching the layers into one IP: a data-width converter
    wherever a layer's output stream is narrower or wider than the next one's input, and the FIFOs
    the folding asks for (FINN sizes deeper ones only by simulating the stitched design, which
    needs Vivado; depth-2 FIFOs are not inserted), each specialised for the part."""
    from qonnx.transformation.general import GiveUniqueNodeNames

    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    model = model.transform(InsertDWC()).transform(InsertFIFO())
    return model.transform(SpecializeLayers(part)).transform(GiveUniqueNodeNames())


def _generate_code(model, out: Path, req: dict) -> None:
    """HLS C++ / Verilog of every layer, written by FINN's code generators (no vendor tool runs),
    and the folded graph that names them."""
    from qonnx.custom_op.registry import getCustomOp

    code = out / "code"
    for n in model.graph.node:
        inst = getCustomOp(n)
        folder = code / n.name
        folder.mkdir(parents=True, exist_ok=True)
        inst.set_nodeattr("code_gen_dir_ipgen", str(folder))
        inst.code_generation_ipgen(model, req["part"], req["clock_ns"])
    model.save(str(out / "folded.onnx"))


def execute(req: dict) -> dict:
    """FINN's python execution of the HW graph, one frame at a time (FINN's HW layers take one
    frame); with "layer_rows", every node's output for the first rows as well; with "rtl_rows",
    the stream each RTL layer of the stitched graph receives and must send for the first rows."""
    from qonnx.core.modelwrapper import ModelWrapper

    from finn.core.onnx_exec import execute_onnx

    model = ModelWrapper(req["graph"])
    codes = np.load(req["codes"])
    name, output = model.graph.input[0].name, model.graph.output[0].name
    layer_rows, rtl_rows = int(req.get("layer_rows", 0)), int(req.get("rtl_rows", 0))
    rows, layers, contexts = [], {}, []
    for i in range(len(codes)):
        ctx = execute_onnx(model, {name: codes[i:i + 1]}, return_full_exec_context=i < max(layer_rows, rtl_rows))
        rows.append(np.asarray(ctx[output], dtype=np.float64).reshape(-1))
        if i < layer_rows:
            for n in model.graph.node:
                layers.setdefault(n.name, []).append(np.asarray(ctx[n.output[0]], dtype=np.float64))
        if i < rtl_rows:
            contexts.append(ctx)
    np.save(req["outputs"], np.stack(rows))
    if layers:
        np.savez(req["layer_outputs"], **{k: np.concatenate(v) for k, v in layers.items()})
    answer = {"rows": len(rows), "nodes": [(n.name, n.op_type, n.output[0]) for n in model.graph.node]}
    if contexts:
        answer["rtl_layers"] = _rtl_streams(ModelWrapper(req["folded"]), contexts)
    return answer


# Layers that only move a stream: their output is their input, so a tensor they write in the
# stitched graph has the value of the tensor they read.
STREAM_MOVERS = ("StreamingDataWidthConverter", "StreamingFIFO")


def _rtl_streams(stitched, contexts: list[dict]) -> list[dict]:
    """For every RTL layer of the stitched graph (finn-rtllib: no vendor primitive in the data
    path): its sources, ports, and the AXI-stream beats it receives and must send for each frame,
    packed as FINN's own RTL simulation packs them, from the python execution's values."""
    from qonnx.custom_op.registry import getCustomOp

    from finn.util.data_packing import npy_to_rtlsim_input

    producer = {t: n for n in stitched.graph.node for t in n.output}

    def value(ctx: dict, tensor: str) -> np.ndarray:
        while tensor not in ctx:
            node = producer.get(tensor)
            if node is None or not node.op_type.startswith(STREAM_MOVERS):
                raise Refused(f"no python-executed value for tensor {tensor} of the stitched graph")
            tensor = node.input[0]
        return np.asarray(ctx[tensor], dtype=np.float64)

    def beats(ctx_tensor: str, shape, dtype, width) -> list[str]:
        return [format(b, "x") for ctx in contexts
                for b in npy_to_rtlsim_input(value(ctx, ctx_tensor).reshape(shape), dtype, width)]

    jobs = []
    for n in stitched.graph.node:
        if not n.op_type.endswith("_rtl"):
            continue
        inst = getCustomOp(n)
        ports = inst.get_verilog_top_module_intf_names()
        streams = [t for t in n.input if stitched.get_initializer(t) is None]  # weights are in the layer
        if len(streams) != 1 or not hasattr(inst, "get_rtl_file_list"):
            raise Refused(f"RTL layer {n.name} ({n.op_type}) has no single-stream form l1forge can simulate")
        out_dtype = inst.get_output_datatype()
        jobs.append({
            "name": n.name, "op": n.op_type, "top": inst.get_verilog_top_module_name(),
            "files": inst.get_rtl_file_list(abspath=True), "clk": ports["clk"][0], "rst": ports["rst"][0],
            # memory images the layer reads at start-up ($readmemh, relative to where the simulation runs)
            "data_files": sorted(str(f) for f in Path(inst.get_nodeattr("code_gen_dir_ipgen")).glob("*.dat")),
            "in_port": ports["s_axis"][0][0], "in_width": inst.get_instream_width_padded(),
            "out_port": ports["m_axis"][0][0], "out_width": inst.get_outstream_width_padded(),
            "out_bits": int(inst.get_folded_output_shape()[-1]) * out_dtype.bitwidth(),
            "frames": len(contexts),
            "in_beats": beats(n.input[0], inst.get_folded_input_shape(), inst.get_input_datatype(),
                              inst.get_instream_width_padded()),
            "out_beats": beats(n.output[0], inst.get_folded_output_shape(), out_dtype,
                               inst.get_outstream_width_padded())})
    return jobs


def synth(req: dict) -> dict:
    """Vivado through FINN's own transformations: Vitis HLS for every HLS layer, the layers
    stitched into one IP, then out-of-context synthesis, placement and routing of it."""
    import ast

    from qonnx.core.modelwrapper import ModelWrapper

    from finn.transformation.fpgadataflow.create_stitched_ip import CreateStitchedIP
    from finn.transformation.fpgadataflow.hlssynth_ip import HLSSynthIP
    from finn.transformation.fpgadataflow.synth_ooc import SynthOutOfContext
    from finn.util.settings import get_settings

    hlslib = get_settings().finn_deps / "finn-hlslib"
    if not hlslib.is_dir():
        raise Refused(f"FINN's HLS layers need finn-hlslib at {hlslib} (github.com/Xilinx/finn-hlslib; the finn-plus "
                      "wheel does not ship it)")
    t = time.perf_counter()
    model = ModelWrapper(req["folded"]).transform(HLSSynthIP(fpgapart=req["part"]))
    model = model.transform(CreateStitchedIP(req["part"], req["clock_ns"]))
    model = model.transform(SynthOutOfContext(part=req["part"], clk_period_ns=req["clock_ns"]))
    model.save(req["folded"])
    results = ast.literal_eval(model.get_metadata_prop("res_total_ooc_synth"))
    return {"report_dir": results["vivado_proj_folder"], "stitched_project": model.get_metadata_prop("vivado_stitch_proj"),
            "seconds": time.perf_counter() - t}


COMMANDS = {"build": build, "execute": execute, "synth": synth}


def main(argv: list[str]) -> int:
    command, request = argv[1], json.loads(Path(argv[2]).read_text())
    answer = Path(request["answer"])
    try:
        from finn.util.settings import initialize_dummy_settings

        initialize_dummy_settings()  # FINN's documented entry for transformations run outside its CLI
        result = {"ok": True, **COMMANDS[command](request)}
    except Refused as e:
        result = {"ok": False, "error": str(e)}
    except Exception as e:  # FINN's own failure: one line for the user, the traceback in the log
        traceback.print_exc()
        result = {"ok": False, "error": f"FINN failed in {command}: {type(e).__name__}: {str(e).splitlines()[0][:300]}"}
    answer.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
