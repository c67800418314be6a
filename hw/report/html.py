"""report.html: one self-contained page (inline CSS and SVG, no scripts, no external URLs) for a
compile report (schema in `hw.report`).

Every figure carries a numbered marker that links to the sources legend at the end of the page, so
each number says where it came from. Figures a report lacks are shown as "n/a". Stable element
ids for the key figures: model, backend, part-name, clock-ns, verdict, verdict-latency,
verdict-capacity, verification, accuracy, final-layer-quantization (Keras models with a quantized float
last layer), latency-cycles, latency-ns, latency-ii, total-<R> and
util-<R> for each resource R, sources.
"""
from __future__ import annotations

from html import escape

from ..parts import RESOURCES
from .summary import backend_line, final_layer_line, layer_label, summary_lines

NA = "n/a"
LAYER_RESOURCES = ("LUT", "FF", "DSP")
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
PART_SOURCE = "part database (hw/parts.py: vendor data-sheet totals)"
OPTION_SOURCE = "compile option"
COSIM_SOURCE = "l1forge co-simulation: firmware vs bit-exact emulator vs QONNX execution"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;
color:#1d1d1f;background:#fff;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:.9em}
th{background:#f4f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.fig{font-size:1.25em;font-weight:600}.na{color:#888}
a.src{font-size:.7em;vertical-align:super;color:#666;text-decoration:none;margin-left:2px}
.verdict{border:2px solid;border-radius:8px;padding:10px 16px;margin:16px 0}
.verdict .head{font-size:1.5em;font-weight:700}
.ok{border-color:#2e7d32;background:#e8f5e9}.ok .head{color:#2e7d32}
.bad{border-color:#c62828;background:#ffebee}.bad .head{color:#c62828}
.unknown{border-color:#9e9e9e;background:#f5f5f5}.unknown .head{color:#616161}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card .label{font-size:.8em;color:#666}
ol.sources li{font-size:.9em;margin:2px 0}pre{background:#f7f7f9;padding:8px;font-size:.85em;white-space:pre-wrap}
"""


class _Sources:
    """Numbers each distinct source string once, in order of first use, and remembers what used it."""

    def __init__(self):
        self.order: list[str] = []
        self.used_by: dict[str, list[str]] = {}

    def mark(self, source, what: str) -> str:
        """The HTML marker ([n] linking to the legend) for a figure taken from `source`."""
        if not source:
            return ""
        source = str(source)
        if source not in self.used_by:
            self.order.append(source)
            self.used_by[source] = []
        if what not in self.used_by[source]:
            self.used_by[source].append(what)
        n = self.order.index(source) + 1
        return f'<a class="src" href="#src-{n}" title="{escape(source)}">[{n}]</a>'

    def legend(self) -> str:
        items = "".join(f'<li id="src-{i}"><b>{escape(s)}</b>: {escape(", ".join(self.used_by[s]))}</li>'
                        for i, s in enumerate(self.order, 1))
        return f'<ol class="sources" id="sources">{items}</ol>'


def fmt(value) -> str:
    """A figure as printed: thousands separators, at most 4 significant digits below 1,000, "n/a" if missing."""
    if value is None or isinstance(value, bool):
        return NA if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() or abs(value) >= 1000:
            return f"{round(value):,}"
        return f"{value:.4g}"
    return str(value)


def _span(value_html: str, elem_id: str | None = None, cls: str = "") -> str:
    ident = f' id="{escape(elem_id)}"' if elem_id else ""
    return f'<span{ident} class="{cls}">{value_html}</span>'


def _figure(value, elem_id: str | None, marker: str = "") -> str:
    text = fmt(value)
    return _span(escape(text), elem_id, "na" if text == NA else "") + (marker if text != NA else "")


def _header(report: dict, src: _Sources) -> str:
    part = report["part"]
    pipe = report.get("pipeline") or {}
    pipe_mark = src.mark(pipe.get("source"), "pipeline stages") if pipe else ""
    return (f'<h1>l1forge compile report: {_span(escape(str(report["model"])), "model")}</h1>'
            f'<table><tr><th>backend</th><td>{_span(escape(backend_line(report)), "backend")}{pipe_mark}</td></tr>'
            f'<tr><th>part</th><td>{_span(escape(part["name"]), "part-name")} '
            f'({escape(str(part.get("device", "")))}, {escape(str(part.get("family", "")))})</td></tr>'
            f'<tr><th>clock</th><td>{_figure(report["clock_ns"], "clock-ns", src.mark(OPTION_SOURCE, "clock"))}'
            f' ns target period</td></tr></table>')


def _verdict(report: dict, src: _Sources) -> str:
    vd, part = report["verdict"], report["part"]
    cls = {True: "ok", False: "bad", None: "unknown"}[vd.get("ok")]
    head = {True: "OK", False: "NOT OK", None: "UNKNOWN"}[vd.get("ok")]
    lat, cap = vd["latency"], vd["capacity"]
    within = {True: "within budget", False: "OVER budget", None: "unknown (no latency figure)"}
    lat_line = (f'latency {_figure(lat.get("ns"), None, src.mark(lat.get("source"), "latency"))} ns '
                f'vs budget {fmt(lat["budget_ns"])} ns{src.mark(OPTION_SOURCE, "latency budget")}: '
                f'<b>{within[lat.get("within")]}</b>')
    fits = {True: "fits", False: "does NOT fit", None: "fit unknown (no resource figures)"}[cap.get("within")]
    cap_line = f'<b>{fits}</b> {escape(part["name"])}'
    if cap.get("resource"):
        util_src = (report.get("utilization") or {}).get("source")
        cap_line += (f': largest {escape(cap["resource"])} {cap["percent"]:.2f}%'
                     f'{src.mark(util_src, "utilization")} of the part{src.mark(PART_SOURCE, "part totals")}')
    return (f'<div class="verdict {cls}"><div>verdict: <span class="head" id="verdict">{head}</span></div>'
            f'<div id="verdict-latency">{lat_line}</div><div id="verdict-capacity">{cap_line}</div></div>')


def _key_figures(report: dict, src: _Sources) -> str:
    lat = report.get("latency") or {}
    res = report.get("resources") or {}
    lmark, rmark = src.mark(lat.get("source"), "latency"), src.mark(res.get("source"), "resources")
    cards = [("latency cycles", _figure(lat.get("cycles"), "latency-cycles", lmark)),
             ("latency ns", _figure(lat.get("ns"), "latency-ns", lmark)),
             ("initiation interval", _figure(lat.get("ii"), "latency-ii", lmark))]
    cards += [(f"total {k}", _figure(res.get(k), f"total-{k}", rmark)) for k in RESOURCES]
    body = "".join(f'<div class="card"><div class="label">{escape(label)}</div><div class="fig">{value}</div></div>'
                   for label, value in cards)
    return f'<h2>Latency and resources</h2><div class="cards">{body}</div>'


def _verification(report: dict, src: _Sources) -> str:
    v = report.get("verification") or {}
    mark = src.mark(COSIM_SOURCE, "verification")
    rows = [("status", _span(escape(str(v.get("status", NA))), "verification") + mark)]
    for key in ("samples", "data_samples", "random_samples"):
        if key in v:
            rows.append((key.replace("_", " "), _figure(v[key], None, mark)))
    for key, n in (v.get("mismatches") or {}).items():
        rows.append((f"mismatches {key.replace('_', ' ')}", _figure(n, None, mark)))
    if v.get("first_divergent_layer"):
        rows.append(("first divergent layer", escape(str(v["first_divergent_layer"]))))
    acc = report.get("accuracy")
    acc_html = (_figure(acc.get("accuracy"), "accuracy", src.mark(acc.get("source"), "accuracy"))
                + f' on {fmt(acc.get("samples"))} labelled samples') if acc else _span(NA, "accuracy", "na")
    rows.append(("accuracy", acc_html))
    change = report.get("final_layer_quantization")
    if change:
        rows.append(("final layer quantization", _span(escape(final_layer_line(change)), "final-layer-quantization")
                     + src.mark(change.get("source"), "final layer quantization")))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{val}</td></tr>" for k, val in rows)
    return f"<h2>Verification and accuracy</h2><table>{body}</table>"


def _percent_bars(rows: list[tuple[str, float | None, str, str]]) -> str:
    """An SVG of horizontal bars, full length = 100 %: (label, percent or None, value text, colour)."""
    label_w, bar_w, row_h = 170, 440, 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{row_h * len(rows) + 6}" '
             f'font-family="sans-serif" font-size="12">']
    for i, (label, pct, text, colour) in enumerate(rows):
        y = 4 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{row_h - 8}" fill="#eee"/>')
        if pct is not None:
            w = max(min(pct / 100.0, 1.0) * bar_w, 1.0 if pct > 0 else 0.0)
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.2f}" height="{row_h - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _utilization(report: dict, src: _Sources) -> str:
    util, res, totals = report.get("utilization") or {}, report.get("resources") or {}, report["part"]["totals"]
    if not util:
        return '<h2>Utilization of the part</h2><p class="na">n/a: this report has no resource figures.</p>'
    rows, ids = [], []
    for k in RESOURCES:
        pct = util.get(k)
        text = (f"{pct:.2f}% ({fmt(res.get(k))} / {fmt(totals.get(k))})" if pct is not None
                else f"{NA} ({fmt(res.get(k))} / {fmt(totals.get(k))})")
        rows.append((k, pct, text, "#c62828" if (pct or 0) > 100 else "#4e79a7"))
        ids.append(f'<span id="util-{k}">{NA if pct is None else f"{pct:.2f}%"}</span>')
    marks = src.mark(util.get("source"), "utilization") + src.mark(PART_SOURCE, "part totals")
    return (f'<h2>Utilization of the part{marks}</h2>{_percent_bars(rows)}'
            f'<p>percent of {escape(report["part"]["name"])}: '
            + ", ".join(f"{k} {i}" for k, i in zip(RESOURCES, ids)) + "</p>")


def _layer_resources(layers: list[dict], src: _Sources) -> str:
    head = "<h2>Resources per layer"
    if not any(layer.get("resources") for layer in layers):
        return head + '</h2><p class="na">n/a: the backend reports no per-layer resource figures.</p>'
    marks = "".join(dict.fromkeys(src.mark(layer["resources"]["source"], "per-layer resources")
                                  for layer in layers if (layer.get("resources") or {}).get("source")))
    label_w, col_w, bar_w, row_h = 170, 240, 150, 22
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + col_w * len(LAYER_RESOURCES)}" '
           f'height="{30 + row_h * len(layers)}" font-family="sans-serif" font-size="12">']
    for j, (k, colour) in enumerate(zip(LAYER_RESOURCES, PALETTE)):
        x0 = label_w + j * col_w
        values = [(layer.get("resources") or {}).get(k) for layer in layers]
        top = max([v for v in values if v is not None] or [0]) or 1
        svg.append(f'<text x="{x0}" y="16" font-weight="bold">{k}</text>')
        for i, v in enumerate(values):
            y = 26 + i * row_h
            svg.append(f'<rect x="{x0}" y="{y}" width="{bar_w}" height="{row_h - 8}" fill="#eee"/>')
            if v:
                svg.append(f'<rect x="{x0}" y="{y}" width="{max(bar_w * v / top, 1.0):.2f}" height="{row_h - 8}" '
                           f'fill="{colour}"/>')
            svg.append(f'<text x="{x0 + bar_w + 6}" y="{y + 12}">{escape(fmt(v))}</text>')
    for i, layer in enumerate(layers):
        svg.append(f'<text x="{label_w - 8}" y="{38 + i * row_h}" text-anchor="end">{escape(layer_label(layer))}</text>')
    svg.append("</svg>")
    return f"{head}{marks}</h2>" + "".join(svg)


def _latency_breakdown(report: dict, layers: list[dict], src: _Sources) -> str:
    head = "<h2>Latency per layer</h2>"
    timed = [(layer_label(layer), layer["latency"]["cycles"], layer["latency"].get("source"))
             for layer in layers if (layer.get("latency") or {}).get("cycles") is not None]
    if not timed:
        return head + '<p class="na">n/a: the backend reports no per-layer cycle counts.</p>'
    clock, total = report["clock_ns"], sum(c for _, c, _ in timed)
    bar_w, x = 860, 20.0
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{70 + 18 * len(timed)}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="20" y="52" fill="#666">0</text><text x="880" y="52" text-anchor="end" fill="#666">'
           f"{fmt(total)} cycles = {fmt(round(total * clock, 3))} ns</text>"]
    for i, (name, cycles, _) in enumerate(timed):
        w = bar_w * cycles / (total or 1)
        colour = PALETTE[i % len(PALETTE)]
        svg.append(f'<rect x="{x:.2f}" y="8" width="{w:.2f}" height="28" fill="{colour}" stroke="#fff"/>')
        svg.append(f'<rect x="20" y="{62 + 18 * i}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="38" y="{72 + 18 * i}">{escape(name)}: {fmt(cycles)} cycles</text>')
        x += w
    svg.append("</svg>")
    cum, rows = 0, []
    for name, cycles, source in timed:
        cum += cycles
        rows.append(f'<tr><td>{escape(name)}</td><td class="num">{fmt(cycles)}{src.mark(source, "per-layer latency")}'
                    f'</td><td class="num">{fmt(cum)}</td><td class="num">{fmt(round(cum * clock, 3))}</td></tr>')
    lat = report.get("latency") or {}
    note = (f"<p>sum of layers: {fmt(cum)} cycles; whole design: {fmt(lat.get('cycles'))} cycles"
            f"{src.mark(lat.get('source'), 'latency')}</p>")
    return (head + "".join(svg) + "<table><tr><th>layer</th><th>cycles</th><th>cumulative cycles</th>"
            "<th>cumulative ns</th></tr>" + "".join(rows) + "</table>" + note)


def _layer_table(layers: list[dict], src: _Sources) -> str:
    if not layers:
        return ""
    rows = []
    for layer in layers:
        lat, res = layer.get("latency") or {}, layer.get("resources") or {}
        lmark = src.mark(lat.get("source"), "per-layer latency")
        rmark = src.mark(res.get("source"), "per-layer resources")
        cells = [_figure(lat.get("cycles"), None, lmark)] + [_figure(res.get(k), None, rmark)
                                                             for k in ("LUT", "FF", "DSP", "BRAM")]
        prec = ", ".join(f"{k}={v}" for k, v in (layer.get("precision") or {}).items())
        rows.append(f"<tr><td>{escape(layer_label(layer))}</td><td>{escape(str(layer.get('class', '')))}</td>"
                    + "".join(f'<td class="num">{c}</td>' for c in cells) + f"<td>{escape(prec)}</td></tr>")
    return ("<h2>Layers</h2><table><tr><th>layer</th><th>class</th><th>cycles</th><th>LUT</th><th>FF</th>"
            "<th>DSP</th><th>BRAM</th><th>precision</th></tr>" + "".join(rows) + "</table>")


def _estimate(report: dict, src: _Sources) -> str:
    est = report.get("estimate")
    if not est:
        return ""
    lat, res = est.get("latency") or {}, est.get("resources") or {}
    cells = [("cycles", _figure(lat.get("cycles"), None, src.mark(lat.get("source"), "estimate (kept to compare)")))]
    cells += [(k, _figure(res.get(k), None, src.mark(res.get("source"), "estimate (kept to compare)")))
              for k in RESOURCES if k in res]
    return ("<h2>Estimate replaced by measured figures</h2><table><tr>" + "".join(f"<th>{k}</th>" for k, _ in cells)
            + "</tr><tr>" + "".join(f'<td class="num">{v}</td>' for _, v in cells) + "</tr></table>")


def render_html(report: dict) -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    src = _Sources()
    layers = report.get("layers") or []
    body = [_header(report, src), _verdict(report, src), _key_figures(report, src), _verification(report, src),
            _utilization(report, src), _layer_resources(layers, src), _latency_breakdown(report, layers, src),
            _layer_table(layers, src), _estimate(report, src)]
    summary = "\n".join(summary_lines(report))
    notes = "".join(f"<li>{escape(str(n))}</li>" for n in report.get("notes") or [])
    body += [f"<h2>Summary</h2><pre>{escape(summary)}</pre>",
             f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "",
             f"<h2>Sources</h2>{src.legend()}"]
    title = escape(f"l1forge report: {report['model']} ({report['backend']}, {report['part']['name']})")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(b for b in body if b) + "\n</body></html>\n")
