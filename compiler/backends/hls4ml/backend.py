"""The hls4ml Backend: the project (emit.py), hls4ml's C simulation (hw.sim), latency and
resources from the estimator fitted to Vivado (hw.estimate) or, with vendor_synth, from the
vendor tools (hw.synth.vendor). A driver module: it joins the lowering with hw."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import yaml

from l1forge.hw.estimate import LayerShape, estimate_hls4ml

from ...ir.fixed import FixedType
from ...ir.model import source_record
from ...errors import L1ForgeError
from ..base import Backend, CompileOptions
from .emit import HlsProject, build_hls_model
from .lowering import HlsLayer
from .division import DIVIDE
from .noise import NOISE
from .routing import ROUTE
from .tables import TABLE


class Hls4mlBackend(Backend):
    name = "hls4ml"

    def check_options(self, options: CompileOptions) -> None:
        if options.vendor_synth:
            from l1forge.hw.synth.vendor import require_vendor_tool

            require_vendor_tool(options.hls_tool)

    supports_noise_source = True

    def build(self, model, folder: Path, options: CompileOptions, timings: dict, log, noise=None) -> tuple[object, dict]:
        t = time.perf_counter()
        project = build_hls_model(model, folder / "hls4ml_prj", part=options.part, clock_ns=options.clock_ns,
                                  backend=options.hls_tool, reuse_factor=options.reuse_factor, noise=noise)
        project.write()
        timings["hls_project_s"] = time.perf_counter() - t
        log(f"hls4ml project written ({len(project.layers)} layers, {options.hls_tool}, {options.part}, "
            f"{options.clock_ns} ns)")
        report = {
            "backend": "hls4ml", "hls_tool": options.hls_tool, "reuse_factor": options.reuse_factor,
            "io_type": "io_parallel", "strategy": "Latency",
            "layers": [{"name": l.spec["name"], "class": l.spec["class_name"], "implements": l.sources,
                        **_source_layers(model, l.sources), "precision": l.precision} for l in project.layers],
            "latency": None, "resources": None, "notes": [],
        }
        est = estimate_hls4ml(layer_shapes(project.layers, options.reuse_factor), options.clock_ns)
        report["latency"], report["resources"] = est["latency"], est["resources"]
        for layer, figures in zip(report["layers"], est["layers"]):
            layer["latency"], layer["resources"] = figures["latency"], figures["resources"]
        report["notes"].append(f"latency and resources: {est['resources']['source']}, fitted to Vivado 2020.1 on "
                               "the seed paper's deep sets (README: estimator errors); no vendor tool ran")
        return project, report

    def simulator(self, project, model, timings: dict, log, time_limit_s=None):
        from l1forge.hw.sim.hls_csim import HlsCSimulator

        simulator = HlsCSimulator(project)
        log("building the C simulation (g++) ...")
        timings["csim_build_s"] = simulator.build()
        return simulator

    def measure(self, project, simulator, report: dict, options: CompileOptions, timings: dict, log) -> None:
        if not options.vendor_synth:
            return
        from l1forge.hw.synth.vendor import run_vendor_synthesis

        log(f"running {options.hls_tool} HLS and Vivado synthesis (hours for large designs) ...")
        t = time.perf_counter()
        vendor = run_vendor_synthesis(project.hls_model, options.hls_tool, project.output_dir, options.clock_ns)
        timings["vendor_synthesis_s"] = time.perf_counter() - t
        report["estimate"] = {"latency": report["latency"], "resources": report["resources"]}
        report["latency"], report["resources"] = vendor["latency"], vendor["resources"]
        report["vendor_layers"] = vendor["layers"]
        if "timing" in vendor:
            report["timing"] = vendor["timing"]
        report["notes"] = [n for n in report["notes"] if not n.startswith("latency and resources: estimate:")]
        report["notes"].append(f"latency: {vendor['latency']['source']}; resources: {vendor['resources']['source']}; "
                               "per-layer figures: the estimator (the HLS tool's own per-module figures are in "
                               "vendor_layers)")

    def reopen(self, folder: Path):
        """hls4ml's own link_existing_project on the build's hls4ml_prj (its C++ is what runs)."""
        import hls4ml

        path = Path(folder) / "hls4ml_prj"
        if not (path / "hls4ml_config.yml").is_file():
            raise L1ForgeError(f"{folder}: no hls4ml project (hls4ml_prj/hls4ml_config.yml is missing)")
        return HlsProject(hls4ml.converters.link_existing_project(str(path)), None, path)

    def relocate(self, project, final_folder: Path) -> None:
        """hls4ml_config.yml names the folder the project ends up in (hls4ml's
        link_existing_project reads OutputDir from it), not the staging folder it was built in."""
        config = project.output_dir / "hls4ml_config.yml"
        data = yaml.safe_load(config.read_text())
        data["OutputDir"] = str((final_folder / project.output_dir.name).resolve())
        config.write_text(yaml.dump(data))


def _source_layers(model, nodes: list[str]) -> dict:
    """{"source_layers": the user's module names of these canonical nodes}, or {} if none is known."""
    records = {n.name: source_record(n) for n in model.graph.node if n.name in nodes}
    names = list(dict.fromkeys(m for n in nodes if (m := records.get(n, {}).get("module"))))
    return {"source_layers": names} if names else {}


BACKEND = Hls4mlBackend()


def layer_shapes(layers: list[HlsLayer], reuse_factor: int) -> list[LayerShape]:
    """One LayerShape per hls4ml layer: positions, sizes, widths, integer weight mantissas."""
    shapes: list[LayerShape] = []
    produced: dict[str, tuple[int, int]] = {}  # layer name -> (result width, number of elements)
    for layer in layers:
        spec, prec = layer.spec, layer.precision
        cls, name = spec["class_name"], spec["name"]
        out_bits = FixedType.parse(prec["result"]).width
        src = produced.get(spec["inputs"][0]) if spec.get("inputs") else None
        in_bits, in_elems = src if src else (0, 0)
        if cls == "InputLayer":
            n = int(np.prod(spec["input_shape"]))
            rows = int(np.prod(spec["input_shape"][:-1])) if len(spec["input_shape"]) > 1 else 1
            shapes.append(LayerShape(name, "input", rows=rows, n_out=n // rows, out_bits=out_bits))
            elems = n
        elif cls == "Dense":
            n_in, n_out = spec["n_in"], spec["n_out"]
            rows = max(1, in_elems // n_in)
            frac = FixedType.parse(prec["weight"]).frac
            w = np.round(np.asarray(spec["weight_data"]) * 2.0 ** frac).astype(np.int64)
            shapes.append(LayerShape(name, "dense", rows=rows, n_in=n_in, n_out=n_out, in_bits=in_bits,
                                     out_bits=out_bits, acc_bits=FixedType.parse(prec["accum"]).width, weights=w,
                                     reuse=reuse_factor))
            elems = rows * n_out
        elif cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            kind = "avg_pool" if cls == "GlobalAveragePooling1D" else "max_pool"
            shapes.append(LayerShape(name, kind, rows=spec["n_in"], n_in=spec["n_filt"], n_out=spec["n_filt"],
                                     in_bits=in_bits, out_bits=out_bits, acc_bits=FixedType.parse(prec["accum"]).width))
            elems = spec["n_filt"]
        elif cls == ROUTE.class_name:
            shapes.append(LayerShape(name, "route", n_in=spec["n_in"], n_out=spec["n_out"], in_bits=in_bits,
                                     out_bits=out_bits, acc_bits=FixedType.parse(prec["accum"]).width, n_sum=spec["n_sum"]))
            elems = spec["n_out"]
        elif cls == TABLE.class_name:
            shapes.append(LayerShape(name, "table", n_in=spec["n_in"], n_out=spec["n_in"], in_bits=in_bits,
                                     out_bits=out_bits, entries=len(spec["values"])))
            elems = spec["n_in"]
        elif cls == NOISE.class_name:  # the lanes' table ROMs (the LFSRs' 64 FF per lane are not modelled)
            lanes = spec["n_out"] - spec["n_in"]
            shapes.append(LayerShape(name, "table", n_in=lanes, n_out=lanes, in_bits=spec["address_bits"],
                                     out_bits=out_bits, entries=len(spec["values"])))
            elems = spec["n_out"]
        elif cls == DIVIDE.class_name:
            shapes.append(LayerShape(name, "divide", n_in=spec["n_in"], n_out=spec["n_in"], in_bits=in_bits,
                                     out_bits=out_bits, acc_bits=spec["prod_bits"],
                                     constants=(int(spec["recip"]), int(spec["divisor"]))))
            elems = spec["n_in"]
        elif cls == "Activation":
            kind = "relu" if spec["activation"] == "relu" else "quant"
            shapes.append(LayerShape(name, kind, n_in=in_elems, n_out=in_elems, in_bits=in_bits, out_bits=out_bits))
            elems = in_elems
        elif cls == "Concatenate":
            elems = sum(produced[i][1] for i in spec["inputs"])
            shapes.append(LayerShape(name, "concat", n_in=elems, n_out=elems, out_bits=out_bits))
        else:  # Reshape: wires
            shapes.append(LayerShape(name, "reshape", n_in=in_elems, n_out=in_elems, out_bits=out_bits))
            elems = in_elems
        produced[name] = (out_bits, elems)
    return shapes
