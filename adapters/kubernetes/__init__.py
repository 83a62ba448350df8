"""Kubernetes adapter: Deployments, Services, autoscalers and disruption budgets of packaged
services, generated from their describe documents (`generate`). docs/deploy.md shows them run.

    files = generate_manifests([KubernetesService(describe, image)], DeploySettings(replicas=2))
"""

from __future__ import annotations

from pesto_factory.adapters.kubernetes.generate import (
    CONFIG_MAP,
    KUBERNETES_VERSION,
    SECRET,
    DeploySettings,
    KubernetesService,
    ManifestError,
    dump_manifest,
    generate_manifests,
    resource_name,
)
from pesto_factory.adapters.kubernetes.local import LocalDeployment, host_network_overlay

__all__ = ["CONFIG_MAP", "KUBERNETES_VERSION", "SECRET", "DeploySettings", "KubernetesService",
           "ManifestError", "dump_manifest", "generate_manifests", "resource_name", "LocalDeployment",
           "host_network_overlay"]
