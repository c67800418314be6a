"""What a sweep writes after its points: OUT/sweep.json (every point: settings, status, metrics or
error), OUT/sweep.md and OUT/sweep.html (the table, the front of the spec's objectives, the
plots), and OUT/comparison/ (`l1forge report`'s comparison of the finished builds: accuracy
against LUT, latency and FF with their Pareto fronts)."""
from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from l1forge.compiler.api import compare_builds, pareto_front
from l1forge.compiler.atomic import write_atomic

from .spec import SweepSpec, short

COLUMNS = ("accuracy", "float_accuracy", "cycles", "latency_ns", "II", "LUT", "FF", "DSP", "verification", "seconds")


def objective_front(rows: list[dict], objectives: dict[str, str]) -> list[str]:
    """Keys of the finished points no other finished point dominates on the objectives (at least
    as good on all, better on one); points missing an objective's figure are left out."""
    sign = {"max": 1.0, "min": -1.0}
    return pareto_front({r["key"]: tuple(sign[s] * r["metrics"][m] for m, s in objectives.items())
                         for r in rows
                         if r["status"] == "done" and all(r["metrics"].get(m) is not None for m in objectives)})


def write_outputs(spec: SweepSpec, rows: list[dict], out: Path) -> dict:
    """Write sweep.json, sweep.md, sweep.html and comparison/; returns the summary."""
    axes = list(spec.axes)
    labels = {r["key"]: short(r["settings"], axes) for r in rows}
    done = [r for r in rows if r["status"] == "done"]
    front = objective_front(rows, spec.objectives)
    comparison = None
    if done:
        comparison = compare_builds([out / "points" / r["key"] / "build" for r in done], out / "comparison",
                                    labels=[labels[r["key"]] for r in done])
    summary = {"spec": str(spec.path), "data": [str(p) for p in spec.data], "axes": spec.axes,
               "objectives": spec.objectives, "front": [labels[k] for k in front],
               "comparison_fronts": comparison["pareto"] if comparison else {},
               "points": [{"label": labels[r["key"]], "key": r["key"], "status": r["status"],
                           "attempts": r["attempts"], "worker": r["worker"], "seconds": r["seconds"],
                           "settings": r["settings"], "metrics": r["metrics"], "error": r["error"]} for r in rows]}
    write_atomic(out / "sweep.json", json.dumps(summary, indent=2) + "\n")
    write_atomic(out / "sweep.md", _markdown(summary))
    png = (out / "comparison" / "pareto.png").read_bytes() if comparison else None
    write_atomic(out / "sweep.html", _html(summary, png))
    return summary


def _cell(point: dict, column: str) -> str:
    if column == "seconds":
        value = point["seconds"]
    else:
        value = (point["metrics"] or {}).get(column)
    if value is None:
        return "n/a"
    if isinstance(value, float) and column.endswith("accuracy"):
        return f"{value:.4f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}" if isinstance(value, float) else str(value)


def _sources(point: dict) -> str:
    m = point["metrics"] or {}
    return "; ".join(f"{what}: {m[k]}" for what, k in (("latency", "latency_source"), ("resources", "resources_source"))
                     if m.get(k))


def _markdown(summary: dict) -> str:
    head = ["point", "status", *COLUMNS, "sources / error"]
    lines = [f"# l1forge sweep: {summary['spec']}", "", f"data: {', '.join(summary['data'])}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in summary["points"]:
        star = " *" if p["label"] in summary["front"] else ""
        lines.append("| " + " | ".join([p["label"] + star, p["status"], *(_cell(p, c) for c in COLUMNS),
                                        (p["error"] or _sources(p)).replace("|", "\\|")]) + " |")
    objectives = ", ".join(f"{m} ({s})" for m, s in summary["objectives"].items())
    lines += ["", f"Front of the objectives {objectives} (marked *): {', '.join(summary['front']) or 'none'}"]
    for cost, labels in summary["comparison_fronts"].items():
        lines.append(f"- accuracy vs {cost}: {', '.join(labels) or 'none'} (comparison/pareto.png)")
    return "\n".join(lines) + "\n"


def _html(summary: dict, png: bytes | None) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in ("point", "status", *COLUMNS, "sources / error"))
    body = []
    for p in summary["points"]:
        star = ' <b title="on the front of the objectives">&#9733;</b>' if p["label"] in summary["front"] else ""
        link = (f'<a href="points/{p["key"]}/build/report.html">{escape(p["label"])}</a>' if p["status"] == "done"
                else escape(p["label"]))
        cells = "".join(f"<td>{escape(_cell(p, c))}</td>" for c in COLUMNS)
        body.append(f'<tr id="point-{p["key"]}" class="{p["status"]}"><td>{link}{star}</td><td>{p["status"]}</td>'
                    f"{cells}<td>{escape(p['error'] or _sources(p))}</td></tr>")
    objectives = ", ".join(f"{m} ({s})" for m, s in summary["objectives"].items())
    img = (f'<img alt="accuracy against LUT, latency and FF" src="data:image/png;base64,'
           f'{base64.b64encode(png).decode()}">' if png else "<p>no finished point to plot</p>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>l1forge sweep</title>'
            "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}td:first-child{text-align:left}"
            "tr.failed td{background:#fdecea}img{max-width:100%}</style></head><body>"
            f"<h1>l1forge sweep</h1><p>spec {escape(summary['spec'])}; data {escape(', '.join(summary['data']))}</p>"
            f'<table id="points"><tr>{head}</tr>{"".join(body)}</table>'
            f'<p>Front of the objectives {escape(objectives)} (&#9733;): <span id="front">'
            f'{escape(", ".join(summary["front"]) or "none")}</span>. '
            '<a href="comparison/comparison.html">The comparison of the builds</a>.</p>'
            f"{img}</body></html>\n")
