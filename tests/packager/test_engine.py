"""The real container engine: build examples/ndvi's image once, run it, call it on 127.0.0.1.

Needs DOCKER_HOST (Podman's Docker-compatible socket; `make test` starts it and sets it). The
image is built in wheelhouse mode on the locally bootstrapped base image, as an air-gapped
site would, and removed at the end.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pesto_factory.packager.cases import load_cases
from pesto_factory.packager.compare import Tolerance, compare_outputs

from tests.packager.conftest import NDVI, copy_project, run_cli, write_json

pytestmark = [
    pytest.mark.engine, pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("DOCKER_HOST"),
                       reason="DOCKER_HOST is unset: no container engine (`make test` starts "
                              "Podman's API service and sets it)"),
]

BASE = os.environ.get("PESTO_BASE_IMAGE", "localhost/pybase:bookworm")
IMAGE = "pesto-test/ndvi:1.0.0"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(project, workspace) after one clean wheelhouse build of the ndvi example."""
    from pesto_factory.packager.engine import connect

    root = tmp_path_factory.mktemp("engine")
    project = copy_project(NDVI, root / "ndvi")
    write_json(project / "pesto" / "build" / "build.json",
               {"name": "pesto-test/ndvi", "version": "1.0.0"})
    expected = project / "pesto" / "tests" / "expected_describe.json"
    write_json(expected, {**json.loads(expected.read_text()), "name": "pesto-test/ndvi"})
    workspace = root / "workspace"
    started = time.monotonic()
    done = run_cli("build", project, "--wheelhouse", "--base-image", BASE,
                   "--workspace", workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"\nclean wheelhouse build of {IMAGE}: {time.monotonic() - started:.1f} s")
    yield project, workspace
    client = connect()
    with contextlib.suppress(Exception):  # best-effort cleanup of the test image
        client.images.remove(IMAGE, force=True)
    # Every build leaves its layers behind (about 1 GB for this module): reclaim them.
    with contextlib.suppress(Exception):
        client.images.prune(filters={"dangling": True})


def test_image_serves_health_describe_and_process(built: tuple[Path, Path]) -> None:
    from pesto_factory.packager.engine import connect
    from pesto_factory.packager.services import container_service

    project, workspace = built
    config = connect().images.get(IMAGE).attrs["Config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Labels"]["io.pesto.name"] == "pesto-test/ndvi"
    build = workspace / "pesto-test" / "ndvi" / "1.0.0"
    case = load_cases(project)[0]
    with container_service(IMAGE) as running:
        url = running.url
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/api/v1/health").status_code == 200
        describe = httpx.get(f"{url}/api/v1/describe").json()
        describe.pop("_links", None)
        assert describe == json.loads((build / "service.json").read_text())
        version = httpx.get(f"{url}/api/v1/version").json()
        assert version["version"] == "1.0.0"
        answer = httpx.post(f"{url}/api/v1/process", params={"outputs": "inline"},
                            json=case.payload, timeout=60)
        assert answer.status_code == 200, answer.text
        assert compare_outputs(case.expected, answer.json(), Tolerance()) == []
        raw = base64.b64decode(case.payload["image"])  # one image input: a raw binary body
        by_bytes = httpx.post(f"{url}/api/v1/process", params={"outputs": "inline"},
                              content=raw, headers={"content-type": "application/octet-stream"},
                              timeout=60)
        assert compare_outputs(case.expected, by_bytes.json(), Tolerance()) == []


#: Run inside the image: what of the project and which distributions its Python has.
_LIST_SITE_PACKAGES = """
import importlib.metadata, importlib.util, json, pathlib
import pesto_factory.runtime
root = pathlib.Path(pesto_factory.runtime.__file__).parent.parent
print(json.dumps({"pesto_factory": sorted(p.name for p in root.iterdir()),
                  "dists": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions()),
                  "app": importlib.util.find_spec("pesto_factory.runtime.api.app") is not None}))
"""


def test_image_has_the_runtime_only(built: tuple[Path, Path]) -> None:
    """A service image gets pesto_factory.runtime and .schemas, never the packager, the
    adapters or their dependencies (typer, docker, Airflow, Conductor)."""
    from pesto_factory.packager.engine import connect

    output = connect().containers.run(
        IMAGE, entrypoint=["python3", "-c", _LIST_SITE_PACKAGES], network_mode="host",
        remove=True, stdout=True, stderr=True)
    listed = json.loads(output.decode().strip().splitlines()[-1])
    assert listed["app"]
    assert sorted(set(listed["pesto_factory"]) - {"__pycache__"}) == ["runtime", "schemas"]
    for name in ("typer", "docker", "apache-airflow", "apache-airflow-core", "conductor-python"):
        assert name not in listed["dists"], f"{name} is installed in {IMAGE}"
    assert {"fastapi", "rasterio", "numpy", "pesto-factory"} <= set(listed["dists"])


def test_packager_test_image_passes(built: tuple[Path, Path]) -> None:
    project, _ = built
    done = run_cli("test", project, "--image")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS case field" in done.stdout and "PASS describe" in done.stdout


def test_packager_test_image_fails_with_a_diff(built: tuple[Path, Path], tmp_path: Path) -> None:
    project = copy_project(built[0], tmp_path / "changed")
    (project / "pesto" / "tests" / "field" / "output" / "mean.float").write_text("0.75\n")
    done = run_cli("test", project, "--image")
    assert done.returncode == 1
    assert "FAIL case field" in done.stdout and "/mean: expected 0.75" in done.stdout
    assert "1 of 2 check(s) failed" in done.stderr


def test_run_an_image_by_name(built: tuple[Path, Path], tmp_path: Path) -> None:
    inputs = built[0] / "pesto" / "tests" / "field" / "input"
    done = run_cli("run", IMAGE, inputs, "--output", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["mean.float", "ndvi.tif"]


def test_cache_level_keeps_the_runtime_layers(built: tuple[Path, Path]) -> None:
    """A clean build leaves no cache; a C2 build fills it and the next C2 build reuses it up
    to the cut and rebuilds everything after."""
    project, workspace = built
    args = ("build", project, "--wheelhouse", "--base-image", BASE, "--workspace", workspace,
            "-c", "C2", "--verbose")
    timings = []
    for _ in range(2):
        started = time.monotonic()
        done = run_cli(*args)
        timings.append(time.monotonic() - started)
        assert done.returncode == 0, done.stderr
    print(f"\nC2 builds of {IMAGE}: first {timings[0]:.1f} s, then {timings[1]:.1f} s")
    lines = done.stderr.splitlines()
    install = next(i for i, line in enumerate(lines) if "RUN pip install" in line)
    assert "Using cache" in lines[install + 1], lines[install:install + 3]
    bust = next(i for i, line in enumerate(lines) if 'RUN echo "build $PESTO_CACHE_BUST"' in line)
    assert "Using cache" not in lines[bust + 1]  # the cut: rebuilt from here on
    listed = run_cli("list", "--workspace", workspace, "--json").stdout
    assert listed.count('"image_id": "sha256:') == 1


def test_a_rebuild_removes_the_image_it_replaces_and_list_tells_the_truth(
        built: tuple[Path, Path]) -> None:
    import docker.errors
    from pesto_factory.packager.engine import connect

    project, workspace = built
    client = connect()
    before = client.images.get(IMAGE).id
    done = run_cli("build", project, "--wheelhouse", "--base-image", BASE, "--workspace",
                   workspace, "-c", "C3")
    assert done.returncode == 0, done.stderr
    after = client.images.get(IMAGE).id
    assert after != before
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(before)  # no dangling image left by the rebuild
    # a later --no-image run rewrites the workspace; the image is still there and listed so
    assert run_cli("build", project, "--no-image", "--workspace", workspace).returncode == 0
    [listed] = json.loads(run_cli("list", "--workspace", workspace, "--json").stdout)
    assert listed["image_id"] == after


def test_failed_build_exits_with_the_engine_message(tmp_path: Path) -> None:
    project = copy_project(NDVI, tmp_path / "ndvi")
    done = run_cli("build", project, "--base-image", "localhost/pesto-missing-base:none",
                   "--workspace", tmp_path / "ws")
    assert done.returncode == 1
    assert "building pesto/ndvi:1.0.0" in done.stderr
    assert "pesto-missing-base" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ws" / "pesto" / "ndvi" / "1.0.0" / "image.json").exists()


def test_a_fresh_project_builds_and_passes_on_its_image(tmp_path: Path) -> None:
    project = tmp_path / "fresh-service"
    assert run_cli("init", project, "--defaults").returncode == 0
    image = "fresh-service:1.0.0"
    done = run_cli("build", project, "--wheelhouse", "--base-image", BASE, "-c", "C1",
                   "--workspace", tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    try:
        tested = run_cli("test", project, "--image")
        assert tested.returncode == 0, tested.stdout + tested.stderr
    finally:
        from pesto_factory.packager.engine import connect

        with contextlib.suppress(Exception):
            connect().images.remove(image, force=True)


def test_missing_image_is_named_without_pulling(ndvi: Path) -> None:
    write_json(ndvi / "pesto" / "build" / "build.json", {"name": "pesto-test/never-built",
                                                         "version": "0.0.1"})
    done = run_cli("test", ndvi, "--image", timeout=60)
    assert done.returncode == 1
    assert "no image pesto-test/never-built:0.0.1 on the engine" in done.stderr
    assert "packager build" in done.stderr
