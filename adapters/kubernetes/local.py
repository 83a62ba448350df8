"""A one-host overlay of the generated manifests, for `podman kube play` (or a single node).

The cluster manifests rely on what one host does not have: a Service that spreads requests over
replicas, and one network namespace per pod. On one host without a cluster, each replica
becomes a Deployment of one pod on the host's network, on a port of its own bound to an address
of the host (127.0.0.1 by default), and the orchestrators are given every replica's URL. The
probes run inside the container with the image's Python (the image has no curl), so the engine
reports a replica healthy only once its /api/v1/health answers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pesto_factory.adapters.kubernetes.generate import HEALTH_PATH, ManifestError, dump_manifest

__all__ = ["LocalDeployment", "host_network_overlay"]

#: What the image's HEALTHCHECK runs, on the replica's own port.
_PROBE = ("import sys, urllib.request; "
          "sys.exit(urllib.request.urlopen('http://{host}:{port}" + HEALTH_PATH + "', "
          "timeout=4).status != 200)")


@dataclass(frozen=True)
class LocalDeployment:
    """The overlay's YAML (one stream for `podman kube play`) and each service's replica URLs."""

    yaml: str
    urls: dict[str, list[str]]
    deployments: list[str]  # one per replica: <service>[-<index>]


def _replica(deployment: dict[str, Any], index: int, count: int, host: str,
             port: int) -> dict[str, Any]:
    replica = copy.deepcopy(deployment)
    name = deployment["metadata"]["name"]
    if count > 1:
        replica["metadata"]["name"] = f"{name}-{index}"
    replica["spec"]["replicas"] = 1
    pod = replica["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    [container] = pod["containers"]
    container["args"] = ["pesto-runtime", "serve", "/opt/pesto/service",
                         "--host", host, "--port", str(port)]
    container.pop("ports", None)  # host network: the port is the --port above, not a mapping
    probe = {"exec": {"command": ["python3", "-c", _PROBE.format(host=host, port=port)]},
             "timeoutSeconds": 5}
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if kind in container:
            timing = {k: v for k, v in container[kind].items() if k != "httpGet"}
            container[kind] = {**timing, **probe}
    return replica


def host_network_overlay(files: Mapping[str, Mapping[str, Any]], *, base_port: int,
                         host: str = "127.0.0.1",
                         extra: tuple[Mapping[str, Any], ...] = ()) -> LocalDeployment:
    """Every Deployment of `files` (from generate_manifests) as one host-network pod per
    replica on consecutive ports from `base_port`; ConfigMaps kept, cluster-only kinds
    (Service, HorizontalPodAutoscaler, PodDisruptionBudget, Kustomization) left out.
    `extra` documents (a Secret for a test store, say) are appended as given."""
    if not 0 < base_port < 65536:
        raise ManifestError(f"base port {base_port} is not a TCP port")
    documents: list[Mapping[str, Any]] = []
    urls: dict[str, list[str]] = {}
    port = base_port
    for name in sorted(files):
        manifest = files[name]
        if manifest.get("kind") == "ConfigMap":
            documents.append(manifest)
        if manifest.get("kind") != "Deployment":
            continue
        count = int(manifest["spec"]["replicas"])
        service = manifest["metadata"]["name"]
        for index in range(count):
            documents.append(_replica(dict(manifest), index, count, host, port))
            urls.setdefault(service, []).append(f"http://{host}:{port}")
            port += 1
    if port > 65536:
        raise ManifestError(f"base port {base_port}: not enough ports for {port - base_port} "
                            "replicas")
    text = "---\n".join(dump_manifest(doc) for doc in (*documents, *extra))
    names = [doc["metadata"]["name"] for doc in documents if doc.get("kind") == "Deployment"]
    return LocalDeployment(yaml=text, urls=urls, deployments=names)
