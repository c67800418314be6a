"""`l1forge sweep`: the spec (points, keys, one-line refusals before any work), the store, the
objective front; on a local Ray with 2 workers a 4-point sweep trained, compiled bit-exact and
measured; a worker killed mid-point and the point retried; an interrupted sweep resumed without
redoing finished points; a second Ray node joining by address."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from l1forge.compiler.cli import main
from l1forge.models.sweep.outputs import objective_front
from l1forge.models.sweep.spec import load_spec, point_key, short
from l1forge.models.sweep.store import SweepStore

TINY = {"model": "deepsets", "epochs": 1, "phi": [8, 8], "rho": [8], "backend": "rtl", "synth": False,
        "verify_samples": 400}


def write_spec(folder: Path, data: Path, **entries) -> Path:
    spec = {"data": str(data), "fixed": dict(TINY), **entries}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cli(*args) -> int:
    return main([str(a) for a in args])


# --- the spec ---

def test_grid_and_random_points_and_their_keys(tmp_path):
    data = tmp_path / "jets.h5"
    data.write_bytes(b"jets")
    spec = load_spec(write_spec(tmp_path, data, axes={"n_constituents": [8, 16], "bits": [4, 6, 8]}))
    points = spec.points()
    assert [short(p, ["n_constituents", "bits"]) for p in points] == [
        f"n_constituents={n} bits={b}" for n in (8, 16) for b in (4, 6, 8)]
    assert all(p["w_bits"] == p["a_bits"] for p in points) and points[0]["phi"] == [8, 8]
    keys = [point_key(p, "digest") for p in points]
    assert len(set(keys)) == 6 and keys == [point_key(p, "digest") for p in load_spec(spec.path).points()]
    assert point_key(points[0], "other data") != keys[0]  # the data's bytes are part of the key

    spec = load_spec(write_spec(tmp_path, data, search={"random": 5, "seed": 3}, fixed={**TINY, "hgq": True},
                                axes={"beta": {"low": 1e-7, "high": 1e-5, "log": True}, "n_constituents": [8, 16]}))
    drawn = spec.points()
    assert len(drawn) == 5 and all(1e-7 <= p["beta"] <= 1e-5 for p in drawn)
    assert drawn == load_spec(spec.path).points()  # the seed fixes the draws
    assert {p["n_constituents"] for p in drawn} <= {8, 16}


@pytest.mark.parametrize("entries, message", [
    ({"axes": {"n_constituents": [8], "widht": [3]}}, "axes: unknown setting 'widht'"),
    ({"axes": {"pool": ["mean", "median"]}}, "setting 'pool': expected one of mean, sum, max, got 'median'"),
    ({"fixed": {k: v for k, v in TINY.items() if k != "model"}, "axes": {"model": ["deepsets", "transformer"]}},
     "setting 'model': expected one of deepsets, intnet, mlp, got 'transformer'"),
    ({"axes": {"n_constituents": []}}, "axes: n_constituents is empty, so the sweep has no points"),
    ({"axes": {}}, "axes: nothing varies"),
    ({"axes": {"bits": [4, 40]}}, "w_bits must be in 2..16, got 40"),
    ({"axes": {"beta": {"low": 0, "high": 1}}}, "beta is a range; a grid needs a list of values"),
    ({"axes": {"bits": [4]}, "objectives": {"LUTs": "min"}}, "objectives: unknown metric 'LUTs'"),
    ({"axes": {"bits": [4]}, "search": "bayes"}, "search must be 'grid' or {random: COUNT, seed: SEED}"),
    ({"axes": {"bits": [4]}, "resources": {"gpus": 1}}, "resources takes cpus and memory_gb"),
    ({"axes": {"bits": [4]}, "extra": 1}, "unknown entry 'extra'"),
])
def test_a_bad_spec_is_one_line_before_any_work(tmp_path, capsys, entries, message):
    data = tmp_path / "jets.h5"
    data.write_bytes(b"jets")
    spec = write_spec(tmp_path, data, **entries)
    assert cli("sweep", spec, "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {spec}: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_spec_data_and_yaml_errors(tmp_path, capsys):
    assert cli("sweep", tmp_path / "none.yaml") == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'none.yaml'}: no such sweep spec"
    spec = write_spec(tmp_path, tmp_path / "missing.h5", axes={"bits": [4]})
    assert cli("sweep", spec) == 1
    assert f"data: no such file {tmp_path / 'missing.h5'}" in capsys.readouterr().err
    spec.write_text("axes: [unclosed\n")
    assert cli("sweep", spec) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {spec}: not valid YAML") and len(err.splitlines()) == 1
    assert not (tmp_path / "spec").exists()


def test_dry_run_lists_the_points(tmp_path, capsys):
    data = tmp_path / "jets.h5"
    data.write_bytes(b"jets")
    spec = write_spec(tmp_path, data, axes={"bits": [4, 8], "pool": ["mean", "max"]})
    assert cli("sweep", spec, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "4 points" in out and "bits=8 pool=max" in out and not (tmp_path / "spec").exists()


def test_an_address_where_no_cluster_answers_is_one_line_before_any_work(tmp_path, capsys):
    data = tmp_path / "jets.h5"
    data.write_bytes(b"jets")
    spec = write_spec(tmp_path, data, axes={"bits": [4, 6]})
    address = f"127.0.0.1:{_free_port()}"
    assert cli("sweep", spec, "--out", tmp_path / "out", "--address", address) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --address {address}: no Ray cluster answers there") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


# --- the store and the front ---

def test_store_states(tmp_path):
    store = SweepStore(tmp_path / "s.sqlite")
    store.add("k1", {"bits": 4})
    store.add("k1", {"bits": 99})  # a known key is kept as it is
    assert store.get("k1")["status"] == "pending" and store.get("k1")["settings"] == {"bits": 4}
    store.started("k1", 1, "pid 1")
    store.started("k1", 2, "pid 2")
    row = store.get("k1")
    assert (row["status"], row["attempts"], row["worker"]) == ("running", 2, "pid 2")
    store.finished("k1", {"accuracy": 0.5}, 12.5)
    store.add("k2", {"bits": 6})
    store.failed("k2", "error: bad")
    store.started("k2", 1, "pid 3", when=100.0)  # a start reported after the result keeps the result
    late = store.get("k2")
    assert (late["status"], late["worker"], late["started"]) == ("failed", "pid 3", 100.0)
    store.close()
    rows = SweepStore(tmp_path / "s.sqlite").rows()  # reopened: committed
    assert [(r["key"], r["status"], r["metrics"], r["error"]) for r in rows] == [
        ("k1", "done", {"accuracy": 0.5}, None), ("k2", "failed", None, "error: bad")]


def test_objective_front():
    def row(key, acc, lut, status="done"):
        return {"key": key, "status": status, "metrics": {"accuracy": acc, "LUT": lut}}
    rows = [row("a", 0.70, 100), row("b", 0.75, 300), row("c", 0.69, 200), row("d", 0.80, 50, "failed"),
            row("e", 0.75, 300), row("f", None, 10)]
    assert objective_front(rows, {"accuracy": "max", "LUT": "min"}) == ["a", "b", "e"]  # ties both stay
    assert objective_front(rows, {"LUT": "max"}) == ["b", "e"]


# --- on Ray ---

def _sweep_process(spec: Path, out: Path, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "l1forge", "sweep", str(spec), "--out", str(out), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _rows(out: Path) -> list[dict]:
    if not (out / "sweep.sqlite").is_file():
        return []
    with sqlite3.connect(out / "sweep.sqlite", timeout=30) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM points ORDER BY rowid")]


def _wait_for(condition, what: str, limit_s: float = 600):
    t0 = time.time()
    while time.time() - t0 < limit_s:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {limit_s} s for {what}")


@pytest.mark.slow
@pytest.mark.tools
def test_four_points_on_a_local_ray_with_two_workers(jet_sample, tmp_path, capsys):
    spec = write_spec(tmp_path, jet_sample, axes={"bits": [4, 6], "pool": ["mean", "sum"]})
    out = tmp_path / "sweep"
    assert cli("sweep", spec, "--out", out, "--workers", 2) == 0
    printed = capsys.readouterr().out
    assert "4 points: 0 already" in printed and "4 of 4 points done, 0 failed" in printed
    summary = json.loads((out / "sweep.json").read_text())
    points = summary["points"]
    assert [p["label"] for p in points] == ["bits=4 pool=mean", "bits=4 pool=sum", "bits=6 pool=mean",
                                            "bits=6 pool=sum"]
    for p in points:
        m = p["metrics"]
        assert p["status"] == "done" and p["attempts"] == 1
        assert m["verification"] == "bit-exact" and m["verified_samples"] >= 400 and m["accuracy_samples"] == 400
        assert m["latency_source"] == "verilator" and m["resources_source"].startswith("estimate:")
        assert m["LUT"] > 0 and m["cycles"] > 0 and m["brevitas_vs_qonnx_rows_differing"] == 0
        assert 0.2 < m["accuracy"] <= 1 and m["train_s"] > 0
        build = out / "points" / p["key"] / "build"
        report = json.loads((build / "report.json").read_text())  # the build reopens as any compile folder
        assert report["accuracy"]["accuracy"] == m["accuracy"] and report["resources"]["LUT"] == m["LUT"]
        assert (out / "points" / p["key"] / "train" / "model.onnx").is_file()
    assert len({p["worker"].split(" on ")[0] for p in points}) >= 2  # Ray may start a fresh process per task
    spans = [(r["started"], r["started"] + r["seconds"]) for r in _rows(out)]  # the workers' own clock
    assert max(sum(s <= t < e for s, e in spans) for t, _ in spans) == 2  # two points at once, never more
    assert summary["front"] and set(summary["front"]) <= {p["label"] for p in points}
    assert set(summary["comparison_fronts"]) == {"LUT", "latency_ns", "FF"}
    html = (out / "sweep.html").read_text()
    assert html.count('class="done"') == 4 and "data:image/png;base64," in html
    assert all((out / "comparison" / f).is_file() for f in ("comparison.md", "comparison.html", "pareto.png"))
    # cosim reopens a point's build with its tool's own API (Verilator from the kept sources)
    cosim = subprocess.run([sys.executable, "-m", "l1forge", "cosim", str(build), "--data",
                            str(out / "points" / p["key"] / "train" / "test_inputs.npz"), "-n", "300"],
                           capture_output=True, text=True)
    assert cosim.returncode == 0 and "bit-exact" in cosim.stdout, cosim.stderr

    # the same command again: nothing is redone
    before = [r["finished"] for r in _rows(out)]
    assert cli("sweep", spec, "--out", out, "--workers", 2) == 0
    assert "4 points: 4 already" in capsys.readouterr().out
    assert [r["finished"] for r in _rows(out)] == before


@pytest.mark.slow
@pytest.mark.tools
def test_a_killed_worker_is_retried_and_an_interrupted_sweep_resumes(jet_sample, tmp_path):
    spec = write_spec(tmp_path, jet_sample, axes={"bits": [4, 5]}, retries=2)
    out = tmp_path / "sweep"
    sweep = _sweep_process(spec, out, "--workers", 1)
    running = _wait_for(lambda: [r for r in _rows(out) if r["status"] == "running" and r["worker"]], "a running point")
    victim_key, victim_pid = running[0]["key"], int(running[0]["worker"].split()[1])
    os.kill(victim_pid, signal.SIGKILL)  # the worker dies mid-point (fault injection)
    stdout, stderr = sweep.communicate(timeout=900)
    assert sweep.returncode == 0, stderr
    assert "retry 1 of bits=" in stdout and "2 of 2 points done" in stdout
    victim = {r["key"]: r for r in _rows(out)}[victim_key]
    assert victim["status"] == "done" and victim["attempts"] == 2 and int(victim["worker"].split()[1]) != victim_pid

    # two more points; the user interrupts after the first of them, then runs the same command again
    spec = write_spec(tmp_path, jet_sample, axes={"bits": [4, 5, 6, 7]}, retries=2)
    sweep = _sweep_process(spec, out, "--workers", 1)
    _wait_for(lambda: sum(r["status"] == "done" for r in _rows(out)) == 3, "a third finished point")
    sweep.send_signal(signal.SIGINT)
    stdout, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, stderr
    assert "4 points: 2 already" in stdout and "interrupted" in stdout and "run the same command again" in stdout
    first = _rows(out)
    finished = {r["key"]: r["finished"] for r in first if r["status"] == "done"}
    assert len(finished) == 3 and [r["status"] for r in first].count("pending") == 1

    resumed = _sweep_process(spec, out, "--workers", 1)
    stdout, stderr = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, stderr
    assert "4 points: 3 already" in stdout and "4 of 4 points done" in stdout
    rows = {r["key"]: r for r in _rows(out)}
    assert all(r["status"] == "done" for r in rows.values())
    assert all(rows[k]["finished"] == t for k, t in finished.items())  # finished points were not redone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.tools
def test_a_second_node_joins_by_address(jet_sample, tmp_path):
    ray_cli = Path(sys.executable).parent / "ray"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--block"]
    nodes = [subprocess.Popen([ray_cli, "start", "--head", "--port", str(port), "--include-dashboard", "false",
                               *common], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)]
    try:
        time.sleep(10)
        nodes.append(subprocess.Popen([ray_cli, "start", "--address", address, *common], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        time.sleep(10)
        assert all(n.poll() is None for n in nodes), [n.stderr.read() for n in nodes if n.poll() is not None]
        spec = write_spec(tmp_path, jet_sample, axes={"pool": ["mean", "sum"]})
        out = tmp_path / "sweep"
        sweep = _sweep_process(spec, out, "--address", address, env=env)
        stdout, stderr = sweep.communicate(timeout=900)
        assert sweep.returncode == 0, stderr
        assert "2 of 2 points done" in stdout
        rows = _rows(out)
        assert len({r["worker"].split(" node ")[1] for r in rows}) == 2  # one point on each node
    finally:
        for node in nodes:
            node.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
        for node in nodes:
            node.wait(timeout=60)
