"""Kubernetes manifests of packaged services, generated from their describe documents.

The describe document already says what a service needs (`resources`: cpu, ram, gpu) and where
it answers (`/api/v1/health` on port 8080 of the image). This module turns that into what an
integrator applies to a cluster, one folder for a whole chain:

    <service>-deployment.yaml   replicas, requests = limits from `resources` (GPU as
                                nvidia.com/gpu), probes on /api/v1/health, PESTO_WORKERS from
                                the cpu count, object-store settings from a ConfigMap and a
                                Secret (never inline), non-root, read-only root filesystem
                                with emptyDirs for the job store and GDAL's temporary files
    <service>-service.yaml      a ClusterIP Service on port 8080
    <service>-hpa.yaml          autoscaling/v2 on CPU, from `replicas` to `max_replicas`
    <service>-pdb.yaml          at most one replica down during voluntary disruptions
    object-store-config.yaml    the ConfigMap every service reads (endpoint, output root)
    kustomization.yaml          all of the above, in a stable order

The Secret (`pesto-object-store-credentials`: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) is
referenced, never written: it is created on the cluster by whoever holds the keys. Output is
deterministic: the same documents and options give byte-identical files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pesto_factory.schemas.errors import PestoError

__all__ = ["DeploySettings", "KubernetesService", "ManifestError", "generate_manifests", "dump_manifest",
           "resource_name", "CONFIG_MAP", "SECRET", "KUBERNETES_VERSION"]

#: The Kubernetes API version the manifests are written for and validated against in the tests.
KUBERNETES_VERSION = "1.33.0"
#: What the image serves (packager/templates/Dockerfile.j2: EXPOSE 8080, USER 10001).
PORT = 8080
IMAGE_UID = 10001
HEALTH_PATH = "/api/v1/health"
STATE_DIR = "/var/lib/pesto/state"
CONFIG_MAP = "pesto-object-store"
SECRET = "pesto-object-store-credentials"
GENERATOR = "pesto-factory"


class ManifestError(PestoError):
    """A describe document or an option cannot make a valid manifest."""

    status_code = 422


@dataclass(frozen=True)
class KubernetesService:
    """One service to deploy: its describe document and the image built from it."""

    describe: Mapping[str, Any]
    image: str


@dataclass(frozen=True)
class DeploySettings:
    """Cluster-wide choices of a deployment (the command line's options)."""

    replicas: int = 1
    max_replicas: int | None = None  # default: 4 x replicas
    #: Replicas of some services by Kubernetes name (the others get `replicas`).
    replicas_of: Mapping[str, int] = field(default_factory=dict)
    namespace: str | None = None
    cpu_target_percent: int = 70
    #: Non-secret object store settings put in the ConfigMap (AWS_S3_ENDPOINT, PESTO_OUTPUT_ROOT...).
    object_store: Mapping[str, str] = field(default_factory=dict)
    image_pull_policy: str = "IfNotPresent"

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ManifestError(f"--replicas {self.replicas}: at least 1 replica is needed")
        for name, count in self.replicas_of.items():
            if count < 1:
                raise ManifestError(f"--replicas-of {name}={count}: at least 1 replica is needed")
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise ManifestError(f"--max-replicas {self.max_replicas} is below --replicas "
                                f"{self.replicas}")
        if self.namespace is not None and not _DNS_LABEL.fullmatch(self.namespace):
            raise ManifestError(f"--namespace {self.namespace!r} is not a DNS label "
                                "(lower case letters, digits and '-', at most 63)")
        secret_like = sorted(key for key in self.object_store if _SECRET_KEY.search(key))
        if secret_like:
            raise ManifestError(f"{', '.join(secret_like)} must not go into a ConfigMap",
                                hint=f"put credentials in the Secret {SECRET} on the cluster")


    def replicas_for(self, name: str) -> int:
        return self.replicas_of.get(name, self.replicas)


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SECRET_KEY = re.compile(r"SECRET|TOKEN|PASSWORD|ACCESS_KEY", re.IGNORECASE)


def resource_name(describe: Mapping[str, Any]) -> str:
    """A DNS-label name for a service: the last part of its describe `name`."""
    raw = str(describe.get("name") or "").rsplit("/", 1)[-1].lower()
    name = re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")[:63].rstrip("-")
    if not name:
        raise ManifestError(f"describe name {describe.get('name')!r} gives no Kubernetes name")
    return name


def _quantities(resources: Mapping[str, Any], name: str) -> tuple[dict[str, Any], int]:
    """Requests/limits and the worker count from the describe's resources."""
    try:
        cpu = float(resources.get("cpu", 1))
        ram = int(resources.get("ram", 0))
        gpu = int(resources.get("gpu", 0))
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{name}: resources {dict(resources)} are not numbers") from exc
    if cpu <= 0 or ram < 0 or gpu < 0:
        raise ManifestError(f"{name}: resources cpu={cpu} ram={ram} gpu={gpu} out of range")
    amounts: dict[str, Any] = {"cpu": f"{round(cpu * 1000)}m"}
    if ram:
        amounts["memory"] = f"{math.ceil(ram / 2**20)}Mi"
    limits = dict(amounts)
    if gpu:
        limits["nvidia.com/gpu"] = gpu  # extended resources: limit only (request = limit)
    return {"requests": amounts, "limits": limits}, max(1, math.floor(cpu))


def _labels(name: str, describe: Mapping[str, Any]) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/version": re.sub(r"[^A-Za-z0-9_.-]", "-", str(describe["version"])),
        "app.kubernetes.io/part-of": "pesto",
        "app.kubernetes.io/managed-by": GENERATOR,
    }


def _metadata(name: str, labels: Mapping[str, str], settings: DeploySettings) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    return meta


def _deployment(service: KubernetesService, settings: DeploySettings) -> dict[str, Any]:
    describe = service.describe
    name = resource_name(describe)
    resources, workers = _quantities(describe.get("resources") or {}, name)
    labels = _labels(name, describe)
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "timeoutSeconds": 5}
    container = {
        "name": name,
        "image": service.image,
        "imagePullPolicy": settings.image_pull_policy,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "PESTO_WORKERS", "value": str(workers)},
            {"name": "PESTO_STATE_DIR", "value": STATE_DIR},
            {"name": "TMPDIR", "value": "/tmp"},
        ],
        "envFrom": [
            {"configMapRef": {"name": CONFIG_MAP, "optional": True}},
            {"secretRef": {"name": SECRET, "optional": True}},
        ],
        "resources": resources,
        # Workers start eagerly and load the algorithm: health answers 503 until they are up.
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 3},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": IMAGE_UID,
            "runAsGroup": IMAGE_UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "state", "mountPath": STATE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, labels, settings),
        "spec": {
            "replicas": settings.replicas_for(name),
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "fsGroup": IMAGE_UID,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "automountServiceAccountToken": False,
                    # A job running at SIGTERM is failed "interrupted" by the next start:
                    # give running tiles time to finish their current call.
                    "terminationGracePeriodSeconds": 60,
                    "containers": [container],
                    "volumes": [{"name": "state", "emptyDir": {}},
                                {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _named(api_version: str, kind: str, describe: Mapping[str, Any], settings: DeploySettings,
           spec: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest named and labelled after the service (what every per-service kind shares)."""
    name = resource_name(describe)
    return {"apiVersion": api_version, "kind": kind,
            "metadata": _metadata(name, _labels(name, describe), settings), "spec": dict(spec)}


def _service(describe: Mapping[str, Any], settings: DeploySettings) -> dict[str, Any]:
    return _named("v1", "Service", describe, settings, {
        "type": "ClusterIP",
        "selector": {"app.kubernetes.io/name": resource_name(describe)},
        "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
    })


def _autoscaler(describe: Mapping[str, Any], settings: DeploySettings) -> dict[str, Any]:
    name = resource_name(describe)
    replicas = settings.replicas_for(name)
    return _named("autoscaling/v2", "HorizontalPodAutoscaler", describe, settings, {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": replicas,
        "maxReplicas": max(settings.max_replicas or 4 * replicas, replicas),
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu",
            "target": {"type": "Utilization",
                       "averageUtilization": settings.cpu_target_percent}}}],
    })


def _disruption_budget(describe: Mapping[str, Any], settings: DeploySettings) -> dict[str, Any]:
    return _named("policy/v1", "PodDisruptionBudget", describe, settings, {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": resource_name(describe)}},
    })


def _config_map(settings: DeploySettings) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": CONFIG_MAP,
                            "labels": {"app.kubernetes.io/part-of": "pesto",
                                       "app.kubernetes.io/managed-by": GENERATOR}}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {key: str(settings.object_store[key]) for key in sorted(settings.object_store)}}


def generate_manifests(services: Sequence[KubernetesService],
                       settings: DeploySettings = DeploySettings()) -> dict[str, dict | list]:
    """File name -> manifest (a kustomization.yaml among them), for every service."""
    if not services:
        raise ManifestError("no service to deploy")
    files: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for service in services:
        name = resource_name(service.describe)
        if name in seen:
            raise ManifestError(f"services {seen[name]!r} and {service.describe.get('name')!r} "
                                f"both deploy as {name!r}")
        seen[name] = str(service.describe.get("name"))
        files[f"{name}-deployment.yaml"] = _deployment(service, settings)
        files[f"{name}-service.yaml"] = _service(service.describe, settings)
        files[f"{name}-hpa.yaml"] = _autoscaler(service.describe, settings)
        files[f"{name}-pdb.yaml"] = _disruption_budget(service.describe, settings)
    files["object-store-config.yaml"] = _config_map(settings)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    if settings.namespace:
        kustomization["namespace"] = settings.namespace
    files["kustomization.yaml"] = kustomization
    return files


def dump_manifest(manifest: Mapping[str, Any]) -> str:
    """YAML text of one manifest, in the generator's key order (stable across runs)."""
    header = f"# Generated by {GENERATOR} from the service's describe document: do not edit.\n"
    return header + yaml.dump(dict(manifest), Dumper=_PlainDumper, sort_keys=False,
                              default_flow_style=False, width=100)


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors or aliases: every manifest reads on its own, as kubectl users expect."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
