"""Kubernetes manifests from describe documents: valid against the API schemas of the stated
version (kubernetes-validate, strict), deterministic, sized from `resources`, secrets by reference."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pesto_factory.adapters.kubernetes import (
    CONFIG_MAP,
    KUBERNETES_VERSION,
    SECRET,
    DeploySettings,
    KubernetesService,
    ManifestError,
    dump_manifest,
    generate_manifests,
)
from pesto_factory.runtime.project import ServiceProject

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"


def chain(*profiles_of_detector: str) -> list[KubernetesService]:
    services = []
    for name, profiles in (("tiling", ()), ("cloud-detection", profiles_of_detector),
                           ("merge", ())):
        project = ServiceProject.load(EXAMPLES / name, profiles)
        services.append(KubernetesService(project.describe(),
                                          f"{project.name}:{project.image_tag}"))
    return services


def by_kind(files: dict, kind: str, name: str) -> dict:
    [found] = [m for m in files.values() if m.get("kind") == kind and m["metadata"]["name"] == name]
    return found


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    settings = DeploySettings(replicas=2, namespace="pesto",
                              object_store={"AWS_S3_ENDPOINT": "store:8333",
                                            "PESTO_OUTPUT_ROOT": "s3://pesto/runs"})
    files = generate_manifests(chain("gpu"), settings)
    kinds = sorted(m["kind"] for m in files.values())
    assert kinds.count("Deployment") == kinds.count("Service") == 3
    assert kinds.count("HorizontalPodAutoscaler") == kinds.count("PodDisruptionBudget") == 3
    for name, manifest in files.items():
        if manifest["kind"] == "Kustomization":
            continue
        # the YAML as written, not the dict: what kubectl would read
        data = yaml.safe_load(dump_manifest(manifest))
        kubernetes_validate.validate(data, KUBERNETES_VERSION, strict=True)
        assert data["metadata"]["namespace"] == "pesto", name


def test_an_invalid_manifest_is_caught_by_the_validator() -> None:
    """The validation above can fail: a wrong field type is refused."""
    deployment = generate_manifests(chain())["tiling-deployment.yaml"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_resources_probes_and_security_follow_the_describe_document() -> None:
    files = generate_manifests(chain("gpu"), DeploySettings(replicas=2))
    detector = by_kind(files, "Deployment", "cloud-detection")
    pod = detector["spec"]["template"]["spec"]
    [container] = pod["containers"]
    describe = ServiceProject.load(EXAMPLES / "cloud-detection", ("gpu",)).describe()
    cpu, ram, gpu = (describe["resources"][k] for k in ("cpu", "ram", "gpu"))
    assert gpu >= 1
    assert container["resources"]["limits"]["nvidia.com/gpu"] == gpu
    assert container["resources"]["requests"]["cpu"] == f"{round(cpu * 1000)}m"
    assert container["resources"]["requests"]["memory"] == f"{-(-ram // 2**20)}Mi"
    assert container["image"] == "pesto/cloud-detection:1.0.0-gpu"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PESTO_WORKERS"] == str(max(1, int(cpu)))
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/api/v1/health", "port": "http"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    assert {v["name"]: v for v in pod["volumes"]}["state"] == {"name": "state", "emptyDir": {}}
    assert detector["spec"]["replicas"] == 2
    hpa = by_kind(files, "HorizontalPodAutoscaler", "cloud-detection")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    tiling = by_kind(files, "Deployment", "tiling")["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in tiling["resources"]["limits"]


def test_object_store_settings_come_from_a_config_map_and_a_secret_never_inline() -> None:
    files = generate_manifests(chain(), DeploySettings(
        object_store={"AWS_S3_ENDPOINT": "store:8333"}))
    text = "".join(dump_manifest(m) for m in files.values())
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AWS_ACCESS_KEY_ID" not in text
    assert by_kind(files, "ConfigMap", CONFIG_MAP)["data"] == {"AWS_S3_ENDPOINT": "store:8333"}
    container = by_kind(files, "Deployment", "merge")["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": SECRET, "optional": True}} in container["envFrom"]
    with pytest.raises(ManifestError, match="AWS_SECRET_ACCESS_KEY must not go into a ConfigMap"):
        DeploySettings(object_store={"AWS_SECRET_ACCESS_KEY": "x"})


def test_output_is_deterministic_and_kustomization_lists_every_file() -> None:
    first = {k: dump_manifest(v) for k, v in generate_manifests(chain()).items()}
    second = {k: dump_manifest(v) for k, v in generate_manifests(chain()).items()}
    assert first == second
    assert "&id" not in "".join(first.values())  # no YAML anchors
    kustomization = yaml.safe_load(first["kustomization.yaml"])
    assert kustomization["resources"] == sorted(k for k in first if k != "kustomization.yaml")


@pytest.mark.parametrize(("settings", "message"), [
    (dict(replicas=0), "at least 1 replica"),
    (dict(replicas=3, max_replicas=2), "--max-replicas 2 is below --replicas 3"),
    (dict(namespace="Bad_NS"), "--namespace 'Bad_NS' is not a DNS label"),
])
def test_bad_options_name_the_option(settings: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        DeploySettings(**settings)


def test_two_services_with_one_kubernetes_name_are_refused() -> None:
    one = chain()[0]
    other = KubernetesService({**one.describe, "name": "team/tiling"}, "x:1")
    with pytest.raises(ManifestError, match="both deploy as 'tiling'"):
        generate_manifests([one, other])


def test_one_service_may_have_its_own_replica_count() -> None:
    files = generate_manifests(chain(), DeploySettings(replicas_of={"cloud-detection": 3}))
    assert by_kind(files, "Deployment", "cloud-detection")["spec"]["replicas"] == 3
    assert by_kind(files, "Deployment", "tiling")["spec"]["replicas"] == 1
    assert by_kind(files, "HorizontalPodAutoscaler", "cloud-detection")["spec"]["minReplicas"] == 3
    with pytest.raises(ManifestError, match="--replicas-of merge=0"):
        DeploySettings(replicas_of={"merge": 0})


def test_the_host_network_overlay_gives_each_replica_its_own_port() -> None:
    from pesto_factory.adapters.kubernetes import host_network_overlay

    files = generate_manifests(chain(), DeploySettings(replicas_of={"cloud-detection": 2},
                                                       object_store={"AWS_REGION": "x"}))
    local = host_network_overlay(files, base_port=18000)
    assert local.urls == {"cloud-detection": ["http://127.0.0.1:18000", "http://127.0.0.1:18001"],
                          "merge": ["http://127.0.0.1:18002"], "tiling": ["http://127.0.0.1:18003"]}
    docs = [d for d in yaml.safe_load_all(local.yaml)]
    assert sorted(d["kind"] for d in docs) == ["ConfigMap"] + ["Deployment"] * 4
    pods = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert sorted(pods) == ["cloud-detection-0", "cloud-detection-1", "merge", "tiling"]
    second = pods["cloud-detection-1"]["spec"]["template"]["spec"]
    assert second["hostNetwork"] is True and "ports" not in second["containers"][0]
    assert second["containers"][0]["args"][-4:] == ["--host", "127.0.0.1", "--port", "18001"]
    probe = second["containers"][0]["readinessProbe"]["exec"]["command"]
    assert "http://127.0.0.1:18001/api/v1/health" in probe[-1]
    for doc in docs:  # still valid Kubernetes objects
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
