"""report.html rendered by headless chromium (real hls4ml compile and an rtl-style report), the
build comparison with its Pareto fronts, and `l1forge report` for one folder, several, and a bad one."""
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from l1forge.compiler.cli import main
from l1forge.compiler.pipeline import compile_model
from l1forge.hw.parts import find_part
from l1forge.hw.report import finalize, summary_lines
from l1forge.hw.report.compare import compare_builds
from l1forge.hw.report.html import render_html

from tests.tagger_checks import SMALL_TAGGERS, trained_tagger

pytestmark = pytest.mark.tools  # every test here runs g++, Verilator, Pythia or Chromium

YOSYS = "yosys synth_xilinx -family xcup, flat (not Vivado)"
VOID = {"meta", "img", "br", "hr", "input", "link"}


def rtl_report(name="in8_rtl", lut=228_806, ff=72_231, cycles=12, acc=0.7125, clock_ns=5.0) -> dict:
    """A report as the rtl backend writes it (figures of the N=8 deep set synthesized by yosys)."""
    report = {"model": name, "backend": "rtl", "part": "xcvu13p-flga2577-2-e", "clock_ns": clock_ns,
              "pipeline": {"stages": cycles, "latency_cutoff": 5, "source": "estimate:da4ml-adder-levels"},
              "latency": {"cycles": cycles, "ns": cycles * clock_ns, "ii": 1, "source": "verilator"},
              "resources": {"LUT": lut, "SRL": 0, "FF": ff, "CARRY": 30_112, "MUXF": 2_210, "DSP": 0, "BRAM": 0.0,
                            "source": YOSYS},
              "layers": [], "notes": ["a <script>alert(1)</script> & <b>bold</b> note stays text"],
              "verification": {"status": "bit-exact", "samples": 12_000, "data_samples": 2_000,
                               "random_samples": 10_000, "bit_exact": True,
                               "mismatches": {"firmware_vs_emulator": 0, "emulator_vs_qonnx": 0}},
              "source": f"runs/{name}/model.onnx", "tensor_types": {"Quant_0_out0": "sfix<12,4>"},
              "timings": {"yosys_s": 1092.0}}
    if acc is not None:
        report["accuracy"] = {"samples": 2_000, "accuracy": acc, "source": "emulator (bit-exact with the firmware)"}
    return finalize(report, find_part(report["part"]))


def write_build(folder: Path, report: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report))
    return folder


@pytest.fixture(scope="module")
def hls_build(tmp_path_factory):
    """A real hls4ml compile of a small trained MLP, with labels so the report has an accuracy."""
    tmp = tmp_path_factory.mktemp("hls")
    path, x = trained_tagger(SMALL_TAGGERS["mlp 6 bit"], tmp)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    compile_model(path, tmp / "fw", backend="hls4ml", data=x, labels=y, n_random=500, log=lambda m: None)
    return tmp / "fw"


class _TextById(HTMLParser):
    """Text content of every element that has an id."""

    def __init__(self, html: str):
        super().__init__()
        self.stack, self.text = [], {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            ident = dict(attrs).get("id")
            self.stack.append(ident)
            if ident:
                self.text[ident] = ""

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for ident in self.stack:
            if ident:
                self.text[ident] += data


def chromium(html_file: Path, tmp: Path) -> tuple[np.ndarray, str]:
    """The page as headless chromium shows it: (screenshot pixels, serialized DOM)."""
    exe = shutil.which("chromium")
    assert exe, "chromium not found: `make setup` installs Debian's chromium (apt-get install chromium)"
    common = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}"]
    shot = tmp / "shot.png"
    run = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1600", html_file.as_uri()],
                         capture_output=True, text=True, timeout=90)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    return imread(shot), dom.stdout


def pixels_near(img: np.ndarray, hex_colour: str, tol: float = 3 / 255) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(img[..., :3] - rgb) <= tol).all(axis=-1).sum())


def source_of(dom: str, elem_id: str) -> str:
    """The source named by the [n] marker right after the element with this id."""
    n = re.search(rf'id="{elem_id}"[^>]*>[^<]*</span><a class="src" href="#src-(\d+)"', dom).group(1)
    return re.search(rf'<li id="src-{n}"><b>([^<]*)</b>', dom).group(1)


def only_local_links(html: str) -> bool:
    return all(u.startswith(("#", "data:")) for u in re.findall(r'(?:src|href)="([^"]*)"', html))


def test_rtl_report_html_in_chromium(tmp_path):
    report = rtl_report()
    page = tmp_path / "report.html"
    page.write_text(render_html(report))
    img, dom = chromium(page, tmp_path)
    assert img.shape[:2] == (1600, 1200) and len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 50
    assert pixels_near(img, "#e8f5e9") > 20_000  # the green verdict box
    assert pixels_near(img, "#4e79a7") > 1_000  # the utilization bars
    text = _TextById(dom).text
    assert text["part-name"] == "xcvu13p-flga2577-2-e" and text["model"] == "in8_rtl"
    assert text["total-LUT"] == "228,806" and text["total-FF"] == "72,231" and text["total-URAM"] == "n/a"
    assert text["latency-cycles"] == "12" and text["latency-ns"] == "60" and text["latency-ii"] == "1"
    assert text["util-LUT"] == "13.24%" and text["util-FF"] == "2.09%"  # 228,806 / 1,728,000; 72,231 / 3,456,000
    assert text["verdict"] == "OK" and "within budget" in text["verdict-latency"]
    assert text["verdict-capacity"].startswith("fits xcvu13p-flga2577-2-e: largest LUT 13.24%")
    assert text["verification"] == "bit-exact" and text["accuracy"] == "0.7125"
    assert source_of(dom, "total-LUT") == YOSYS and source_of(dom, "latency-ns") == "verilator"
    assert "n/a: the backend reports no per-layer" in dom
    assert "<script" not in dom and "a &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold" in dom
    assert only_local_links(page.read_text())


def test_hls4ml_compile_writes_html_rendered_by_chromium(hls_build, tmp_path):
    report = json.loads((hls_build / "report.json").read_text())
    page = hls_build / "report.html"
    assert page.read_text() == render_html(report) and only_local_links(page.read_text())
    img, dom = chromium(page, tmp_path)
    assert img.shape[:2] == (1600, 1200) and len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 50
    text = _TextById(dom).text
    res, lat, vd = report["resources"], report["latency"], report["verdict"]
    assert text["part-name"] == "xcvu13p-flga2577-2-e" and text["verification"] == "bit-exact"
    assert res["source"] == lat["source"] == "estimate:l1forge-hls4ml-v1"
    assert text["total-LUT"] == f"{res['LUT']:,}" and text["latency-ns"] == f"{lat['ns']:g}"
    assert text["verdict"] == {True: "OK", False: "NOT OK", None: "UNKNOWN"}[vd["ok"]]
    assert text["accuracy"] == f"{report['accuracy']['accuracy']:.4g}" and 0 <= report["accuracy"]["accuracy"] <= 1
    layers = report["layers"]
    assert len(layers) >= 4 and all(layer["name"] in dom for layer in layers)
    assert all(layer["resources"]["LUT"] is not None for layer in layers)  # per-layer estimates, drawn as bars


def test_layer_figures_render_as_bars_and_breakdown(tmp_path):
    report = rtl_report(cycles=7)
    report["layers"] = [
        {"name": "dense_0", "class": "Dense", "latency": {"cycles": 3, "source": "estimate:test-model"},
         "resources": {"LUT": 4_000, "FF": 900, "DSP": 2, "BRAM": 0, "source": "estimate:test-model"}},
        {"name": "relu_0", "class": "Activation", "latency": {"cycles": 1, "source": "estimate:test-model"}},
        {"name": "dense_1", "class": "Dense", "latency": {"cycles": 3, "source": "estimate:test-model"},
         "resources": {"LUT": 1_000, "FF": 300, "DSP": 0, "BRAM": 0, "source": "estimate:test-model"}}]
    html = render_html(report)
    text = _TextById(html).text
    assert "estimate:test-model" in text["sources"] and "per-layer resources" in text["sources"]
    # cumulative cycles 3, 4, 7 and ns 15, 20, 35 at 5 ns; relu_0 has no resource figures
    assert re.findall(r'<td class="num">(\d+)</td><td class="num">(\d+)</td></tr>', html) == [
        ("3", "15"), ("4", "20"), ("7", "35")]
    assert "relu_0: 1 cycles" in html and html.count(">n/a<") >= 4  # relu_0: LUT, FF, DSP bars and its table cells
    assert '<rect x="20.00" y="8" width="368.57"' in html  # dense_0 is 3/7 of the 860 px stacked bar


def test_compare_builds_pareto_fronts(tmp_path):
    # name: (accuracy, LUT, cycles at 5 ns, FF)
    builds = {"a": (0.70, 10_000, 6, 72_231), "b": (0.75, 50_000, 12, 90_000), "c": (0.68, 20_000, 4, 30_000),
              "d": (None, 5_000, 2, 10_000), "e": (0.72, 60_000, 5, 95_000)}
    dirs = [write_build(tmp_path / k, rtl_report(name=f"m_{k}", lut=lut, cycles=cyc, acc=acc, ff=ff))
            for k, (acc, lut, cyc, ff) in builds.items()]
    result = compare_builds(dirs, tmp_path / "cmp")
    # LUT: c loses to a (0.70 > 0.68 with fewer LUT), e to b; latency: a (30 ns) loses to e (25 ns, 0.72);
    # FF: e loses to b (0.75 > 0.72 with fewer FF)
    assert result["pareto"] == {"LUT": ["a", "b"], "latency_ns": ["b", "c", "e"], "FF": ["a", "b", "c"]}
    assert result["not_plotted"] == {"accuracy": ["d"], "LUT": [], "latency_ns": [], "FF": []}
    assert [r["LUT"] for r in result["builds"]] == [10_000, 50_000, 20_000, 5_000, 60_000]
    assert result["builds"][1]["ns"] == 60.0 and result["builds"][1]["utilization (largest)"] == "LUT 2.89%"
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| a | m_a | rtl | xcvu13p-flga2577-2-e | 5 | 6 | 30 | 1 | 10,000 | 72,231 | 0 | 0 | FF 2.09% | 0.7 |" in md
    assert "- accuracy vs LUT: a, b" in md and "- accuracy vs latency (ns): b, c, e" in md
    assert "not plotted (no accuracy: compiled without labels): d" in md
    html = (tmp_path / "cmp" / "comparison.html").read_text()
    text = _TextById(html).text
    assert text["pareto-LUT"] == "a, b" and text["pareto-latency_ns"] == "b, c, e" and "d" in text["not-plotted"]
    assert text["pareto-FF"] == "a, b, c" and "- accuracy vs FF: a, b, c" in md
    assert "verilator" in text["build-a"] and YOSYS in text["build-a"] and only_local_links(html)
    png = imread(tmp_path / "cmp" / "pareto.png")
    assert png.shape[:2] == (480, 1800) and pixels_near(png, "#c62828", 0.02) > 50  # red front markers
    assert not list((tmp_path / "cmp").glob(".*"))  # no temporary files left


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def test_cli_report_one_dir_rerenders(tmp_path, capsys):
    report = rtl_report()
    build = write_build(tmp_path / "rtl", report)
    assert run_cli("report", build) == 0
    assert (build / "report.md").read_text().startswith("# l1forge compile report: in8_rtl")
    assert _TextById((build / "report.html").read_text()).text["total-LUT"] == "228,806"
    out = capsys.readouterr().out
    assert all(line in out for line in summary_lines(report)) and "latency: 12 cycles = 60.0 ns" in out


def test_cli_report_several_dirs_and_bad_dir(hls_build, tmp_path, capsys):
    fast = write_build(tmp_path / "fast", rtl_report(lut=100_000, cycles=4, acc=0.70))
    big = write_build(tmp_path / "big", rtl_report(lut=228_806, cycles=12, acc=0.74))
    assert run_cli("report", hls_build, fast, big, "--out", tmp_path / "cmp") == 0
    out = capsys.readouterr().out
    assert f"-> {tmp_path / 'cmp' / 'comparison.md'}" in out
    hls = json.loads((hls_build / "report.json").read_text())
    # the small MLP ("fw", accuracy < 0.70 on these labels) is never slower than "fast" (20 ns) nor more accurate,
    # and it has fewer LUT than "fast" (100,000) whenever the hls4ml report carries resource figures
    assert hls["accuracy"]["accuracy"] < 0.70 and hls["latency"]["ns"] >= 20 and hls["resources"]["LUT"] < 100_000
    assert "accuracy vs LUT: fw, fast, big" in out
    assert "accuracy vs latency: fast, big" in out
    assert (tmp_path / "cmp" / "pareto.png").stat().st_size > 10_000

    old = tmp_path / "old"
    old.mkdir()
    (old / "report.json").write_text('{"model": "x"}')
    for bad, message in ((tmp_path / "missing", f"{tmp_path / 'missing'}: no report.json"),
                         (old, f"{old / 'report.json'}: not an l1forge report")):
        assert run_cli("report", fast, bad, "--out", tmp_path / "cmp2") == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith(f"error: {message}"), err
        assert not (tmp_path / "cmp2").exists()
