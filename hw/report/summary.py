"""The compile report: schema, utilization of the part, verdicts, report.md and the terminal summary.

`report.json` (schema "l1forge.report/1", report.schema.json), written into every compile folder:

    schema        "l1forge.report/1"
    model         model name; source: the file compiled
    backend       "hls4ml" | "rtl" | "finn"   (+ hls_tool, reuse_factor, strategy, io_type for hls4ml;
                                       pipeline {stages, latency_cutoff, source} for rtl;
                                       folding {target_cycles_per_frame, layers [{name, op, folding, cycles}]} for finn)
    part          {name, device, family, totals {LUT, FF, DSP, BRAM, URAM}}   BRAM in 36 Kb blocks
    clock_ns      target clock period
    latency       {cycles, ns, ii, source} or null
    resources     {LUT, FF, DSP, BRAM, URAM, source, ...tool extras (CARRY, MUXF, SRL, cells)} or null
    utilization   {LUT, FF, DSP, BRAM, URAM: percent of the part, source} or null
    layers        [{name, class, source_layers? (the user's own layer names), precision?, latency {cycles, source}?, resources {LUT, FF, DSP, BRAM, source}?}]
    estimate      the estimator's {latency, resources} when measured figures replaced it (kept to compare)
    verification  {status: "bit-exact" | "unverified", samples, data_samples, random_samples, mismatches {...},
                  rtl_layers? (finn: [{name, class, frames, beats, status, source}], the RTL layers run in Verilator),
                  rtl_layers_not_simulated? (finn: [{name, class, reason}], RTL layers Verilator cannot build)}
    accuracy      {samples, accuracy, source} when labels were given
    final_layer_quantization   Keras models whose float last layer the frontend quantized:
                  {layer, type, samples, argmax_agreement, max_abs_logit_change, source,
                   accuracy_float?, accuracy_quantized?, labelled_samples? (with labels)},
                  or {layer, type, not_measured: why}
    verdict       {latency: {budget_ns, ns, within, source}, capacity: {within, resource, percent}, ok}
    timings       seconds per step; notes: list of sentences; tensor_types: every tensor's fixed type

Every `source` is a tool that measured the figure (`verilator`, `yosys ...`, `vivado`, `vitis_hls`,
`vivado_hls`) or `estimate:<model name>`.
"""
from __future__ import annotations

from ..parts import RESOURCES, Part, utilization
from .schema import SCHEMA

DEFAULT_LATENCY_BUDGET_NS = 100.0


def finalize(report: dict, part: Part, latency_budget_ns: float = DEFAULT_LATENCY_BUDGET_NS) -> dict:
    """Add schema, the part's totals, utilization and the verdicts to a backend's report (in place)."""
    report["schema"] = SCHEMA
    report["part"] = {"name": report["part"] if isinstance(report["part"], str) else report["part"]["name"],
                      "device": part.device, "family": part.family, "totals": part.totals()}
    res = report.get("resources")
    report["utilization"] = None
    if res and any(k in res for k in RESOURCES):
        report["utilization"] = {**utilization(res, part), "source": res["source"]}
    report["verdict"] = verdict(report, latency_budget_ns)
    return report


def verdict(report: dict, latency_budget_ns: float) -> dict:
    """Within the latency budget? Within the part's capacity (every resource <= 100 %)?"""
    lat = report.get("latency")
    ns = lat.get("ns") if lat else None  # an HLS report may give no latency ("?")
    latency = {"budget_ns": latency_budget_ns, "ns": ns, "within": None if ns is None else ns <= latency_budget_ns,
               "source": lat["source"] if lat else None}
    util = {k: v for k, v in (report.get("utilization") or {}).items() if k in RESOURCES}
    if util:
        worst = max(util, key=util.get)
        capacity = {"within": util[worst] <= 100.0, "resource": worst, "percent": util[worst]}
    else:
        capacity = {"within": None, "resource": None, "percent": None}
    known = [v for v in (latency["within"], capacity["within"]) if v is not None]
    return {"latency": latency, "capacity": capacity, "ok": all(known) if known else None}


def _yes_no(within) -> str:
    return "unknown" if within is None else ("yes" if within else "NO")


def _figures(res: dict) -> str:
    return ", ".join(f"{res[k]:,} {k}" if isinstance(res[k], int) else f"{res[k]:g} {k}"
                     for k in (*RESOURCES, "CARRY", "MUXF") if res.get(k) is not None)


def summary_lines(report: dict) -> list[str]:
    """The few lines printed at the end of every compile."""
    v, part = report["verification"], report["part"]
    lines = [f"verification: {v['status']}" + (f" on {v['samples']:,} inputs" if "samples" in v else "")
             + (f"; accuracy {report['accuracy']['accuracy']:.4f}" if "accuracy" in report else "")]
    if v.get("rtl_layers"):
        lines.append(f"RTL layers bit-exact in Verilator on {v['rtl_layers'][0]['frames']} frames: "
                     + ", ".join(row["name"] for row in v["rtl_layers"])
                     + (f" ({len(v['rtl_layers_not_simulated'])} not buildable in Verilator: see the notes)"
                        if v.get("rtl_layers_not_simulated") else ""))
    if report.get("final_layer_quantization"):
        lines.append(final_layer_line(report["final_layer_quantization"]))
    lat = report.get("latency")
    lines.append(f"latency: {lat['cycles']} cycles = {lat['ns']} ns at {report['clock_ns']} ns, II {lat['ii']} "
                 f"({lat['source']})" if lat else "latency: unknown")
    res, util = report.get("resources"), report.get("utilization")
    if res and util:
        pct = ", ".join(f"{k} {util[k]:.2f}%" for k in RESOURCES if k in util)
        lines.append(f"resources: {_figures(res)} ({res['source']})")
        lines.append(f"utilization of {part['name']}: {pct}")
    elif res:
        lines.append(f"resources: {_figures(res) or 'not measured'} ({res['source']})")
    vd = report["verdict"]
    lines.append(f"verdict: latency within {vd['latency']['budget_ns']:g} ns: {_yes_no(vd['latency']['within'])}; "
                 f"fits {part['name']}: {_yes_no(vd['capacity']['within'])}"
                 + (f" (largest: {vd['capacity']['resource']} {vd['capacity']['percent']:.2f}%)"
                    if vd["capacity"]["resource"] else ""))
    return lines


def final_layer_line(change: dict) -> str:
    """One sentence on what quantizing a float final layer changed."""
    if "not_measured" in change:
        return f"final layer '{change['layer']}' quantized to {change['type']}: effect not measured ({change['not_measured']})"
    line = (f"final layer '{change['layer']}' quantized to {change['type']}: argmax unchanged on "
            f"{100 * change['argmax_agreement']:.2f}% of {change['samples']:,} inputs, largest logit change "
            f"{change['max_abs_logit_change']:.3g}")
    if "accuracy_float" in change:
        line += (f"; accuracy {change['accuracy_float']:.4f} (float layer) -> {change['accuracy_quantized']:.4f} "
                 f"on {change['labelled_samples']:,} labelled inputs")
    return line


def backend_line(report: dict) -> str:
    """How the firmware was built, in a few words."""
    if report["backend"] == "hls4ml":
        return (f"hls4ml ({report['hls_tool']}, {report['io_type']}, {report['strategy']}, "
                f"reuse factor {report['reuse_factor']})")
    if report["backend"] == "finn":
        return (f"finn (finn-plus dataflow, {len(report['folding']['layers'])} layers folded for "
                f"{report['folding']['target_cycles_per_frame']} cycles per frame)")
    return f"rtl (da4ml Verilog, {report['pipeline']['stages']} pipeline stages)"


def layer_label(layer: dict) -> str:
    """A report layer under the user's own layer name(s) where the model has them, with the
    backend's layer name beside: "phi.layers.0 (MatMul_0)"."""
    user = ", ".join(layer.get("source_layers") or [])
    return f"{user} ({layer['name']})" if user else layer["name"]


def render_markdown(report: dict) -> str:
    """report.md: the summary, then one row per layer with its figures and their sources."""
    lines = [f"# l1forge compile report: {report['model']}", "",
             f"- backend: {backend_line(report)}",
             f"- part: {report['part']['name']} ({report['part']['family']}), clock {report['clock_ns']} ns",
             *[f"- {line}" for line in summary_lines(report)]]
    layers = report.get("layers") or []
    if layers:
        lines += ["", "| layer | class | cycles | LUT | FF | DSP | BRAM | source | precision |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for layer in layers:
            lat, res = layer.get("latency") or {}, layer.get("resources") or {}
            prec = ", ".join(f"{k}={v}" for k, v in (layer.get("precision") or {}).items())
            src = res.get("source") or lat.get("source") or ""
            cells = [lat.get("cycles", ""), *(res.get(k, "") for k in ("LUT", "FF", "DSP", "BRAM"))]
            lines.append(f"| {layer_label(layer)} | {layer.get('class', '')} | " + " | ".join(
                f"{c:,}" if isinstance(c, int) else str(c) for c in cells) + f" | {src} | {prec} |")
    tables = report.get("tables") or []
    if tables:
        lines += ["", "Function tables (the table is the meaning; error against the float function on the input grid):",
                  "", "| node | function | entries | input | output | max error |", "|---|---|---|---|---|---|"]
        lines += [f"| {t['node']} | {t['function']} | {t['entries']:,} | {t['input_type']} | {t['output_type']} | "
                  f"{t['max_error']:.3g} |" for t in tables]
    if noise := report.get("noise_source"):
        lines += ["", f"On-chip noise source (columns {noise['columns']}): {noise['lfsr']}; a table of "
                      f"{noise['entries']:,} equiprobable Gaussian cells, std {noise['std']:.4f}, tails cut at "
                      f"{noise['tail_cut_sigma']:.3g} sigma, Kolmogorov-Smirnov distance to N(0, 1) "
                      f"{noise['ks_distance']:.4f} (the table's own distribution, exact)."]
    lines += ["", *[f"- {n}" for n in report.get("notes", [])], ""]
    return "\n".join(lines)
