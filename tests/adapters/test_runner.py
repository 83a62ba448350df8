"""The embedded runner against real services started on 127.0.0.1, and its command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest
import rasterio
from pesto_factory.adapters.local import RunFailed, run_pipeline
from pesto_factory.adapters.pipeline import load_pipeline
from pesto_factory.packager.cli import main

from tests.adapters.conftest import SERVICES, SQUARES
from tests.conftest import REPO, wait_until

pytestmark = pytest.mark.slow


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/v1/health", timeout=2)
    except httpx.TransportError:
        return True
    return False


def test_cli_run_fans_out_in_parallel_and_fans_in_in_item_order(tmp_path, capsys):
    latch = tmp_path / "latch"
    latch.mkdir()
    out = tmp_path / "run"
    code = main(["pipeline", "run", str(SQUARES), "--input", "count=3", "-i",
                 f"latch_dir={latch}", "--parallel", "3", "--output", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    summary = _summary(out)
    assert printed["status"] == summary["status"] == "SUCCEEDED"
    finished = summary["outputs"]["finished"]
    assert finished == sorted(finished, reverse=True)  # the last item finished first...
    assert summary["outputs"]["indexes"] == [0, 1, 2]  # ...and the fan-in is in item order
    assert summary["outputs"]["total"] == 1 + 4 + 9
    assert [(s["id"], s["calls"], s["status"]) for s in summary["steps"]] == [
        ("split", 1, "SUCCEEDED"), ("squares", 3, "SUCCEEDED"), ("total", 1, "SUCCEEDED")]
    assert summary["steps"][1]["items"] == 3
    assert summary["services"]["square"]["workers"] == 3
    assert summary["services"]["split"]["workers"] == 1
    assert summary["inputs"] == {"count": 3, "latch_dir": str(latch), "fail_index": -1,
                                 "hold": ""}
    assert summary["files"] == {"image": "image.tif"}
    assert printed["files"] == {"image": str(out / "image.tif")}
    with rasterio.Env(), warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        image = rasterio.open(out / "image.tif")
    with image:
        assert image.read(1).tolist() == [[1, 4, 9]]
    assert all(_refused(service["url"]) for service in summary["services"].values())
    assert "squares" in captured.err  # the progress display and the table


def test_a_failing_item_fails_the_run_and_leaves_no_output(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "image.tif").write_bytes(b"from an earlier run")
    (out / "summary.json").write_text(json.dumps({"status": "SUCCEEDED",
                                                  "files": {"image": "image.tif"}}))
    (out / "mine.txt").write_text("not the runner's")
    with pytest.raises(RunFailed) as caught:
        run_pipeline(load_pipeline(SQUARES), {"count": 4, "fail_index": 2}, output_dir=out,
                     parallel=2)
    error = caught.value
    assert error.message.startswith("step 'squares' (service 'square'), item 2 of 4 failed: ")
    assert "item 2 refused: value 3 is unlucky" in error.message
    assert (error.step, error.item) == ("squares", 2)
    summary = _summary(out)
    assert summary["status"] == "FAILED"
    assert summary["error"]["step"] == "squares" and summary["error"]["item"] == 2
    assert "unlucky" in summary["error"]["message"]
    statuses = {s["id"]: s["status"] for s in summary["steps"]}
    assert statuses == {"split": "SUCCEEDED", "squares": "FAILED", "total": "NOT_RUN"}
    assert summary["outputs"] == {} and summary["files"] == {}
    assert not (out / "image.tif").exists()  # the earlier run's output is gone
    assert (out / "mine.txt").exists()
    assert all(_refused(service["url"]) for service in summary["services"].values())


def test_a_running_service_given_by_url_is_used_not_started(tmp_path, service_factory):
    square = service_factory(SERVICES / "square", env={"PESTO_WORKERS": "2"})
    summary = run_pipeline(load_pipeline(SQUARES), {"count": 2}, output_dir=tmp_path / "run",
                           service_urls={"square": square.url}, parallel=2)
    assert summary.status == "SUCCEEDED" and summary.outputs["indexes"] == [0, 1]
    assert summary.services["square"] == {"url": square.url}
    assert not (tmp_path / "run" / "services" / "square").exists()
    assert square.process.poll() is None  # not ours to stop
    with pytest.raises(RunFailed, match="--service nope: pipeline 'squares' has no service"):
        run_pipeline(load_pipeline(SQUARES), {}, output_dir=tmp_path / "x",
                     service_urls={"nope": square.url})


def test_services_that_do_not_start_fail_the_run_with_their_reason(tmp_path, write_spec,
                                                                    monkeypatch):
    (tmp_path / "empty-project").mkdir()
    spec = write_spec(f"""\
        name: broken
        services:
          empty: {{project: {tmp_path / "empty-project"}}}
        steps:
          - {{id: a, service: empty}}
        """)
    with pytest.raises(RunFailed, match="service 'empty' exited .* before it was ready"):
        run_pipeline(load_pipeline(spec), {}, output_dir=tmp_path / "run1")
    assert _summary(tmp_path / "run1")["status"] == "FAILED"

    misbehaving = REPO / "tests" / "runtime" / "services" / "misbehaving"
    spec = write_spec(f"""\
        name: unready
        services:
          bad: {{project: {misbehaving}}}
        steps:
          - {{id: a, service: bad}}
        """, name="unready.yaml")
    monkeypatch.setenv("MISBEHAVING_FAIL_START", "1")
    with pytest.raises(RunFailed, match=r"service 'bad' was not healthy after 3 s \(.*model "
                       "file missing"):
        run_pipeline(load_pipeline(spec), {}, output_dir=tmp_path / "run2", start_timeout=3)


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["pipeline", "run", str(SQUARES), "-i", "count=many"]) == 1
    assert "input 'count': expected integer, got 'many'" in capsys.readouterr().err
    assert main(["pipeline", "run", str(SQUARES), "-s", "square"]) == 1
    assert "--service 'square': expected NAME=VALUE" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nservices: {}\nsteps: []\n")
    assert main(["pipeline", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: 2 problems" in err and "at /services (line 2)" in err
    assert main(["pipeline", "check", str(SQUARES)]) == 0
    assert "ok: squares: split -> squares[foreach ${split.items}] -> total" in \
        capsys.readouterr().out


def test_ctrl_c_records_the_run_as_failed_and_stops_the_services(tmp_path):
    latch, hold, out = tmp_path / "latch", tmp_path / "hold", tmp_path / "run"
    latch.mkdir()
    hold.touch()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PESTO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "pesto_factory.packager", "pipeline", "run", str(SQUARES), "-i", "count=2",
         "-i", f"latch_dir={latch}", "-i", f"hold={hold}", "-o", str(out), "--parallel", "2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: (latch / "started-0").exists() or process.poll() is not None,
                   timeout=90, what="the first item to start")
        assert process.poll() is None, process.communicate()[1].decode()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err.decode()
    summary = _summary(out)
    assert summary["status"] == "FAILED" and summary["error"] == {"message": "interrupted"}
    assert {s["id"]: s["status"] for s in summary["steps"]}["squares"] == "FAILED"
    assert all(_refused(service["url"]) for service in summary["services"].values())
    assert not list(out.glob("*.tif"))


def test_image_services_need_a_url(write_spec, tmp_path):
    spec = write_spec("name: i\nservices: {s: {image: 'pesto/x:1.0'}}\nsteps: [{id: a, service: s}]")
    with pytest.raises(RunFailed, match="is the image pesto/x:1.0") as caught:
        run_pipeline(load_pipeline(spec), {}, output_dir=tmp_path / "run")
    assert "--service s=http" in caught.value.hint
    assert not (tmp_path / "run").exists()
