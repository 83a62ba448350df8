"""The generated Kubernetes manifests run for real: the three example images built (wheelhouse
mode), played with `podman kube play` on the engine the tests start (the one-host overlay of
`packager deploy k8s --host-network-port`: host networking, a port per replica, 127.0.0.1
only), probed healthy, and the cloud-mask chain run through the pods with every image moving
through the S3 server. Two replicas of cloud-detection share the fan-out; one is killed in the
middle of it and the chain still gives the detector's mask, each tile merged once.
`podman kube down` removes everything at the end."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import kubernetes_validate
import numpy as np
import pytest
import rasterio
import yaml
from pesto_factory.adapters.kubernetes import KUBERNETES_VERSION
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, upload

from tests.adapters.conductor.conftest import conductor  # noqa: F401
from tests.conftest import free_port, wait_until
from tests.examples.conftest import whole_scene_mask
from tests.packager.conftest import run_cli
from tests.storage.seaweed import OPEN_BUCKET

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SPEC = EXAMPLES / "pipelines" / "cloud_mask.yaml"
CHAIN = ("tiling", "cloud-detection", "merge")
#: (Deployment, container) of each pod the one-host overlay makes.
PODS = (("tiling", "tiling"), ("merge", "merge"), ("cloud-detection-0", "cloud-detection"),
        ("cloud-detection-1", "cloud-detection"))
BASE = os.environ.get("PESTO_BASE_IMAGE", "localhost/pybase:bookworm")

pytestmark = [
    pytest.mark.engine, pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
    pytest.mark.skipif(not os.environ.get("DOCKER_HOST"),
                       reason="DOCKER_HOST is unset: no container engine (`make test` starts "
                              "Podman's API service and sets it)"),
]


def podman(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The podman CLI against the engine's API socket (what `make engine` started)."""
    return subprocess.run(["podman", "--remote", "--url", os.environ["DOCKER_HOST"], *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def _free_block(size: int) -> int:
    """A first port of `size` consecutive free ports."""
    for _ in range(50):
        base = free_port()
        if base + size < 65000 and all(_is_free(base + i) for i in range(size)):
            return base
    raise RuntimeError(f"no block of {size} free ports")


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def chain_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The three example images, built as an air-gapped site would (wheelhouse mode)."""
    workspace = tmp_path_factory.mktemp("k8s-workspace")
    for name in CHAIN:
        done = run_cli("build", EXAMPLES / name, "--wheelhouse", "--base-image", BASE,
                       "--workspace", workspace)
        assert done.returncode == 0, done.stderr
    yield
    for name in CHAIN:
        podman("rmi", "--force", f"pesto/{name}:1.0.0")


@dataclass
class Pods:
    urls: dict[str, list[str]]
    play: Path
    manifests: Path
    prefix: str


@pytest.fixture(scope="module")
def pods(chain_images, seaweed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pods]:
    root = tmp_path_factory.mktemp("k8s")
    prefix = f"kube-{uuid.uuid4().hex[:10]}"
    out = root / "manifests"
    done = run_cli(
        "deploy", "k8s", *(EXAMPLES / name for name in CHAIN), "--out", out,
        "--replicas-of", "cloud-detection=2", "--host-network-port", _free_block(4),
        "--output-root", f"s3://{OPEN_BUCKET}/{prefix}/pods",
        "--config", f"AWS_S3_ENDPOINT={seaweed.endpoint}", "--config", "AWS_HTTPS=NO",
        "--config", "AWS_VIRTUAL_HOSTING=FALSE", "--config", f"PESTO_REMOTE_HOSTS={OPEN_BUCKET}",
        # podman 4.3 cannot give a pod a Secret (see tests/storage/seaweed.py OPEN_BUCKET): the
        # pods use the store's credential-free bucket; on a cluster they read the Secret.
        "--config", "AWS_NO_SIGN_REQUEST=YES")
    assert done.returncode == 0, done.stderr
    play = out / "local" / "podman-play.yaml"
    for document in yaml.safe_load_all(play.read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    played = podman("kube", "play", str(play))
    pods = Pods(json.loads((out / "local" / "urls.json").read_text()), play, out, prefix)
    try:
        assert played.returncode == 0, played.stderr
        for url in (u for urls in pods.urls.values() for u in urls):
            wait_until(lambda url=url: _healthy(url), timeout=240, interval=0.5,
                       what=f"the probe of {url}")
        yield pods
    finally:
        for deployment, container in PODS:  # shown when a test fails
            logs = podman("logs", "--tail", "20", _container(deployment, container))
            print(f"--- {deployment}\n{logs.stdout}{logs.stderr}")
        down = podman("kube", "down", str(play))
        assert down.returncode == 0, down.stderr
        left = podman("pod", "ps", "--format", "{{.Name}}").stdout.split()
        assert not [p for p in left if p.split("-pod-")[0] in dict(PODS)], left


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _container(deployment: str, container: str) -> str:
    """The container podman made of a one-replica Deployment (NAME-pod-0-CONTAINER)."""
    return f"{deployment}-pod-0-{container}"


def test_the_pods_are_what_the_manifests_say(pods: Pods) -> None:
    inspect = json.loads(podman("inspect", _container("cloud-detection-1", "cloud-detection")).stdout)[0]
    config = inspect["Config"]
    assert config["User"].startswith("10001")
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["AWS_S3_ENDPOINT"].startswith("127.0.0.1:")
    assert env["PESTO_REMOTE_HOSTS"] == OPEN_BUCKET
    assert env["PESTO_OUTPUT_ROOT"] == f"s3://{OPEN_BUCKET}/{pods.prefix}/pods"
    assert env["PESTO_WORKERS"] == "1" and env["PESTO_STATE_DIR"] == "/var/lib/pesto/state"
    assert "AWS_SECRET_ACCESS_KEY" not in env  # never inline: only from a Secret
    describe = httpx.get(f"{pods.urls['cloud-detection'][0]}/api/v1/describe", timeout=10).json()
    assert describe["name"] == "pesto/cloud-detection"


def test_the_chain_through_the_pods_with_a_replica_killed_mid_fan_out(
        pods: Pods, seaweed, s3_env, crop: Path, tmp_path: Path) -> None:
    from pesto_factory.adapters.local import run_pipeline
    from pesto_factory.adapters.pipeline import load_pipeline

    scene = ObjectLocation("s3", OPEN_BUCKET, f"{pods.prefix}/in/{crop.name}")
    upload(crop, scene)
    store = f"s3://{OPEN_BUCKET}/{pods.prefix}/run/"
    victim = _container("cloud-detection-1", "cloud-detection")
    before = _process_calls(victim)
    urls = {name: ",".join(found) for name, found in pods.urls.items()}
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["summary"] = run_pipeline(
                load_pipeline(SPEC), {"scene": scene.uri, "tile_size": 64},
                output_dir=tmp_path / "run", parallel=4, service_urls=urls, output_store=store)
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    runner = threading.Thread(target=run)
    runner.start()
    # the kill lands in the middle of the fan-out: once the second replica answered a few tiles
    wait_until(lambda: _process_calls(victim) - before >= 4 or not runner.is_alive(),
               timeout=300, what="tiles on the second replica")
    assert runner.is_alive(), "the run ended before the kill"
    killed = podman("kill", victim, timeout=60)
    assert killed.returncode == 0, killed.stderr
    runner.join(timeout=600)
    assert "error" not in outcome, outcome.get("error")
    summary = outcome["summary"]
    assert summary.status == "SUCCEEDED"
    tiles = summary.steps[1].items
    assert tiles == 64
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    split = written["services"]["cloud-detection"]["replicas"]
    print(f"\ntiles per replica: {split} (resent after the kill: "
          f"{written['services']['cloud-detection'].get('resent')})")
    assert sum(split.values()) == tiles  # every tile answered once
    assert all(count > 0 for count in split.values())
    with rasterio.open(ObjectLocation.parse(summary.files["mask"]).vsi) as src:
        np.testing.assert_array_equal(src.read(1), whole_scene_mask(crop))


def _process_calls(container: str) -> int:
    """POST /process calls a replica answered, from its access log (every run of the container)."""
    logs = podman("logs", container)
    return (logs.stdout + logs.stderr).count('"POST /api/v1/process')


def _revive(pods: Pods) -> None:
    """Every pod's container running and healthy again (a test before may have killed one)."""
    for deployment, container in PODS:
        name = _container(deployment, container)
        if not json.loads(podman("inspect", name).stdout)[0]["State"]["Running"]:
            assert podman("start", name).returncode == 0
    for url in (u for urls in pods.urls.values() for u in urls):
        wait_until(lambda url=url: _healthy(url), timeout=120, interval=0.5, what=url)


def test_conductor_workers_through_the_pods_with_a_replica_killed(
        pods: Pods, seaweed, s3_env, crop: Path, conductor) -> None:  # noqa: F811
    """The SDK workers of cloud-detection are given both replicas (URL1,URL2): each batch's
    tiles spread over them; one replica killed after the first batches: its calls go to the
    other, and the workflow completes with the detector's mask."""
    _revive(pods)
    from pesto_factory.adapters.conductor import generate_task_defs, generate_workflows
    from pesto_factory.adapters.conductor.worker import register_definitions, service_describes
    from pesto_factory.adapters.pipeline import load_pipeline

    from tests.adapters.conductor.conftest import running_workers

    # (the logs of a killed container's earlier run stay readable after its restart)
    urls = pods.urls
    describes = service_describes({name: found[0] for name, found in urls.items()})
    [workflow] = generate_workflows(load_pipeline(SPEC), describes, options={"batch_size": 4})
    register_definitions(conductor.configuration(), generate_task_defs(describes), workflow)
    scene = ObjectLocation("s3", OPEN_BUCKET, f"{pods.prefix}/conductor/{crop.name}")
    upload(crop, scene)
    victim = _container("cloud-detection-1", "cloud-detection")
    calls_before = {name: _process_calls(_container(name, "cloud-detection"))
                    for name in ("cloud-detection-0", "cloud-detection-1")}
    workers = {"pesto_tiling": urls["tiling"][0], "pesto_merge": urls["merge"][0],
               "pesto_cloud_detection": ",".join(urls["cloud-detection"])}
    with running_workers(conductor, workers, thread_count=2):
        workflow_id = conductor.start(workflow["name"], {"scene": scene.uri, "tile_size": 64})

        def batches_done() -> int:
            tasks = conductor.workflow(workflow_id).get("tasks", [])
            return sum(1 for t in tasks if t.get("taskType") == "pesto_cloud_detection"
                       and t.get("status") == "COMPLETED")

        wait_until(lambda: batches_done() >= 2, timeout=240, what="two batches of tiles")
        killed = podman("kill", victim, timeout=60)
        assert killed.returncode == 0, killed.stderr
        result = conductor.wait(workflow_id, timeout=420)
    assert result["status"] == "COMPLETED", result.get("reasonForIncompletion")
    split = {name: _process_calls(_container(name, "cloud-detection")) - calls_before[name]
             for name in ("cloud-detection-0", "cloud-detection-1")}
    print(f"\ntiles per replica through Conductor: {split}")
    assert all(count > 0 for count in split.values()), split
    with rasterio.open(ObjectLocation.parse(result["output"]["mask"]).vsi) as src:
        np.testing.assert_array_equal(src.read(1), whole_scene_mask(crop))


def test_the_airflow_dag_through_the_pods_with_a_replica_killed(
        pods: Pods, seaweed, s3_env, crop: Path, tmp_path: Path) -> None:
    """The generated DAG (dag.test()) with the cloud-detection connection naming both replicas
    (extra `replicas`): mapped tasks spread their calls, one replica is killed once some tile
    masks are in the store, and the run still gives the detector's mask."""
    from tests.adapters.airflow.harness import airflow_env, finish, start_dag_test

    _revive(pods)
    urls = pods.urls
    env = airflow_env(tmp_path / "home", REPO / "dags",
                      {"pesto_tiling": urls["tiling"][0], "pesto_merge": urls["merge"][0]})
    first, *others = urls["cloud-detection"]
    env["AIRFLOW_CONN_PESTO_CLOUD_DETECTION"] = json.dumps(
        {"conn_type": "pesto", "host": first, "extra": {"replicas": others}})
    scene = ObjectLocation("s3", OPEN_BUCKET, f"{pods.prefix}/airflow/{crop.name}")
    upload(crop, scene)
    victim = _container("cloud-detection-1", "cloud-detection")
    calls_before = {name: _process_calls(_container(name, "cloud-detection"))
                    for name in ("cloud-detection-0", "cloud-detection-1")}
    run = start_dag_test(env, REPO / "dags" / "cloud_mask.py",
                         {"scene": scene.uri, "tile_size": 64}, "outputs", tmp_path)
    try:
        wait_until(lambda: _process_calls(victim) - calls_before["cloud-detection-1"] >= 3
                   or run.poll() is not None, timeout=300, what="tiles on the second replica")
        killed = podman("kill", victim, timeout=60)
    finally:
        result = finish(run, tmp_path, timeout=600)
    assert killed.returncode == 0, killed.stderr
    assert result["state"] == "success", result["log"][-3000:]
    split = {name: _process_calls(_container(name, "cloud-detection")) - calls_before[name]
             for name in ("cloud-detection-0", "cloud-detection-1")}
    print(f"\ntiles per replica through Airflow: {split}")
    assert all(count > 0 for count in split.values()), split
    with rasterio.open(ObjectLocation.parse(result["value"]["mask"]).vsi) as src:
        np.testing.assert_array_equal(src.read(1), whole_scene_mask(crop))
