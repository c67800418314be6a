"""Compare compile folders side by side: comparison.md, comparison.html and pareto.png.

The Pareto plots put accuracy against LUTs, latency (ns) and FFs; a build is Pareto-optimal when
no other build has accuracy at least as high and cost at least as low, one of the two strictly.
Builds without an accuracy (compiled without labels) or without the cost figure are listed in the
table but not plotted, and the outputs say so.
"""
from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path

from l1forge.compiler.atomic import write_atomic
from l1forge.compiler.errors import L1ForgeError

from ..parts import RESOURCES
from .html import CSS, NA, fmt
from .schema import SCHEMA, validate_report

COLUMNS = ("build", "model", "backend", "part", "clock ns", "cycles", "ns", "II", "LUT", "FF", "DSP", "BRAM",
           "utilization (largest)", "accuracy", "verification", "verdict", "sources")
COSTS = {"LUT": "LUT", "latency_ns": "latency (ns)", "FF": "FF"}  # Pareto cost key -> axis label
COST_COLUMN = {"LUT": "LUT", "latency_ns": "ns", "FF": "FF"}


def load_report(folder: Path) -> dict:
    """FOLDER/report.json; a one-line error naming the folder if it is missing or not an l1forge report."""
    path = Path(folder) / "report.json"
    if not path.is_file():
        raise L1ForgeError(f"{folder}: no report.json (not a compile folder; make one with `l1forge compile ... "
                           f"--out {folder}`)")
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise L1ForgeError(f"{path}: not readable JSON ({exc}); recompile into {folder}") from None
    schema = report.get("schema") if isinstance(report, dict) else None
    if schema != SCHEMA:
        raise L1ForgeError(f"{path}: not an l1forge report (schema {schema!r}, expected {SCHEMA!r}); recompile "
                           f"into {folder} with this version")
    validate_report(report, str(path))
    return report


def pareto_front(points: dict[str, tuple[float, ...]]) -> list[str]:
    """Labels of the Pareto-optimal points among label -> figures, every figure higher-is-better
    (negate a cost): no other point is at least as high on all and different (ties all stay)."""
    def beats(b, a):
        return all(x >= y for x, y in zip(b, a)) and b != a
    return [k for k, p in points.items() if not any(beats(q, p) for q in points.values())]


def _labels(dirs: list[Path]) -> list[str]:
    """Each build's name in the table and plots: its folder name, its path where names repeat."""
    names = [d.name or str(d) for d in dirs]
    names = [n if names.count(n) == 1 else str(d) for n, d in zip(names, dirs)]
    return [n if names.count(n) == 1 else f"{n} #{i}" for i, n in enumerate(names, 1)]


def _row(label: str, r: dict) -> dict:
    lat, res, util = r.get("latency") or {}, r.get("resources") or {}, r.get("utilization") or {}
    pct = {k: util[k] for k in RESOURCES if util.get(k) is not None}
    worst = max(pct, key=pct.get) if pct else None
    vd = r["verdict"]
    bad = [what for what, part in (("latency", vd["latency"]), ("capacity", vd["capacity"]))
           if part.get("within") is False]
    verdict = {True: "OK", None: "unknown"}.get(vd.get("ok"), "NOT OK: " + ", ".join(bad))
    v = r.get("verification") or {}
    sources = [f"{what}: {s}" for what, s in (("latency", lat.get("source")), ("resources", res.get("source")),
                                              ("accuracy", (r.get("accuracy") or {}).get("source"))) if s]
    return {"build": label, "model": r["model"], "backend": r["backend"], "part": r["part"]["name"],
            "clock ns": r["clock_ns"], "cycles": lat.get("cycles"), "ns": lat.get("ns"), "II": lat.get("ii"),
            **{k: res.get(k) for k in ("LUT", "FF", "DSP", "BRAM")},
            "utilization (largest)": f"{worst} {pct[worst]:.2f}%" if worst else None,
            "accuracy": (r.get("accuracy") or {}).get("accuracy"),
            "verification": v.get("status", NA) + (f" ({v['samples']:,})" if "samples" in v else ""),
            "verdict": verdict, "sources": "; ".join(sources) or None}


def _pareto_png(rows: list[dict], front: dict[str, list[str]], unplotted: dict[str, list[str]]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * len(COSTS), 4.8), layout="constrained")
    for ax, cost_key in zip(fig.subplots(1, len(COSTS)), COSTS):
        col = COST_COLUMN[cost_key]
        pts = [(r["build"], r[col], r["accuracy"]) for r in rows if r[col] is not None and r["accuracy"] is not None]
        for best, colour, marker, size, label in ((True, "#c62828", "*", 90, "Pareto-optimal"),
                                                  (False, "#4e79a7", "o", 40, "dominated")):
            sel = [(x, y) for name, x, y in pts if (name in front[cost_key]) == best]
            if sel:
                ax.scatter(*zip(*sel), s=size, c=colour, marker=marker, zorder=3, label=label)
        for name, x, y in pts:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        line = sorted((x, y) for name, x, y in pts if name in front[cost_key])
        if len(line) > 1:
            ax.step([p[0] for p in line], [p[1] for p in line], where="post", c="#c62828", lw=1, alpha=0.6)
        xs = [x for _, x, _ in pts]
        if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
            ax.set_xscale("log")
        ax.set_xlabel(f"{COSTS[cost_key]} (lower is better)")
        ax.set_ylabel("accuracy (higher is better)")
        ax.set_title(f"accuracy vs {COSTS[cost_key]}: Pareto front in red" if pts else
                     f"accuracy vs {COSTS[cost_key]}: no build has both figures")
        ax.grid(alpha=0.3)
        ax.margins(x=0.1, y=0.1)
        if pts:
            ax.legend(loc="lower right", fontsize=8)
    if unplotted["accuracy"]:
        fig.suptitle(f"not plotted (no accuracy): {', '.join(unplotted['accuracy'])}", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _unplotted_lines(unplotted: dict[str, list[str]]) -> list[str]:
    lines = [f"not plotted (no accuracy: compiled without labels): {', '.join(unplotted['accuracy'])}"]
    lines += [f"not on the {COSTS[k]} plot (no {COSTS[k]} figure): {', '.join(unplotted[k])}" for k in COSTS]
    return [line for line, names in zip(lines, [unplotted["accuracy"], *(unplotted[k] for k in COSTS)]) if names]


def _markdown(rows: list[dict], front: dict, unplotted: dict) -> str:
    def cell(v):
        return fmt(v).replace("|", "\\|")
    lines = ["# l1forge build comparison", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r[c]) for c in COLUMNS) + " |" for r in rows]
    lines += ["", "Pareto-optimal (higher accuracy, lower cost), plotted in pareto.png:",
              *[f"- accuracy vs {COSTS[k]}: {', '.join(front[k]) or 'none'}" for k in COSTS]]
    lines += [f"- {line}" for line in _unplotted_lines(unplotted)]
    return "\n".join(lines) + "\n"


def _html(rows: list[dict], front: dict, unplotted: dict, png: bytes) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        star = [COSTS[k] for k in COSTS if r["build"] in front[k]]
        cells = "".join(f"<td>{escape(fmt(r[c]))}</td>" for c in COLUMNS[1:])
        tag = f' <b title="Pareto-optimal">&#9733; {escape(", ".join(star))}</b>' if star else ""
        body.append(f'<tr id="build-{escape(r["build"])}"><td>{escape(r["build"])}{tag}</td>{cells}</tr>')
    fronts = "".join(f'<li>accuracy vs {escape(COSTS[k])}: <span id="pareto-{k}">'
                     f'{escape(", ".join(front[k]) or "none")}</span></li>' for k in COSTS)
    missing = "".join(f"<li>{escape(line)}</li>" for line in _unplotted_lines(unplotted))
    missing = f'<ul id="not-plotted">{missing}</ul>' if missing else ""
    img = base64.b64encode(png).decode()
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>l1forge build comparison</title>'
            f"<style>{CSS}body{{max-width:none}}</style></head><body><h1>l1forge build comparison</h1>"
            f'<table id="comparison"><tr>{head}</tr>{"".join(body)}</table>'
            "<h2>Pareto fronts (&#9733;: no other build is as accurate and as cheap, and better in one)</h2>"
            f"<ul>{fronts}</ul>"
            f'{missing}<img alt="accuracy against LUT and latency" src="data:image/png;base64,{img}">'
            "</body></html>\n")


def compare_builds(dirs: list[Path], out: Path, labels: list[str] | None = None) -> dict:
    """Read every DIR/report.json, then write OUT/comparison.md, comparison.html and pareto.png;
    each build is named by its label (default: its folder's name, its path where names repeat).

    Returns {"builds": table rows, "pareto": {"LUT": [...], "latency_ns": [...], "FF": [...]}, "not_plotted":
    {"accuracy": builds without accuracy, "LUT"/"latency_ns"/"FF": builds with accuracy but without that cost},
    "files": {"markdown", "html", "png"}}. Nothing is written unless every report parses.
    """
    dirs, out = [Path(d) for d in dirs], Path(out)
    if not dirs:
        raise L1ForgeError("no compile folders to compare; give one or more DIRs that hold a report.json")
    if labels is not None and (len(labels) != len(dirs) or len(set(labels)) != len(labels)):
        raise L1ForgeError(f"compare_builds: give one distinct label per build ({len(dirs)} builds, labels {labels})")
    reports = [load_report(d) for d in dirs]
    rows = [_row(label, r) for label, r in zip(labels or _labels(dirs), reports)]
    front = {k: pareto_front({r["build"]: (r["accuracy"], -r[COST_COLUMN[k]]) for r in rows
                              if r["accuracy"] is not None and r[COST_COLUMN[k]] is not None}) for k in COSTS}
    unplotted = {"accuracy": [r["build"] for r in rows if r["accuracy"] is None],
                 **{k: [r["build"] for r in rows if r["accuracy"] is not None and r[COST_COLUMN[k]] is None]
                    for k in COSTS}}
    png = _pareto_png(rows, front, unplotted)
    files = {"markdown": out / "comparison.md", "html": out / "comparison.html", "png": out / "pareto.png"}
    texts = {"markdown": _markdown(rows, front, unplotted), "html": _html(rows, front, unplotted, png), "png": png}
    out.mkdir(parents=True, exist_ok=True)
    for key, path in files.items():
        write_atomic(path, texts[key])
    return {"builds": rows, "pareto": front, "not_plotted": unplotted, "files": {k: str(p) for k, p in files.items()}}
