"""The container engine, reached through the Docker Engine API (the `docker` SDK).

The same code drives Docker and Podman's Docker-compatible socket: the engine is whatever
DOCKER_HOST names (Docker's default socket when unset). Engine failures become `EngineError`s
that say which engine was tried, so a user sees "cannot reach the container engine at
DOCKER_HOST=..." rather than a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pesto_factory.schemas.errors import PestoError

__all__ = ["EngineError", "BuildFailed", "connect", "engine_errors", "build_image",
           "BuildResult", "run_container", "RunningContainer", "describe_host"]

log = logging.getLogger(__name__)

CONTAINER_PORT = "8080/tcp"


class EngineError(PestoError):
    """The container engine cannot be reached or refused a request."""


class BuildFailed(EngineError):
    """The engine ran the build and one of its steps failed."""

    def __init__(self, message: str, *, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.log_tail = log_tail or []


def describe_host() -> str:
    host = os.environ.get("DOCKER_HOST")
    return f"DOCKER_HOST={host}" if host else "DOCKER_HOST (unset: Docker's default socket)"


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Re-raise the SDK's and the transport's errors as EngineError naming the engine."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except docker.errors.APIError as exc:
        raise EngineError(f"{action}: the engine at {describe_host()} answered: "
                          f"{exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineError(f"cannot reach the container engine at {describe_host()}: {exc}",
                          hint="start Docker or Podman's API service (make engine) and set "
                               "DOCKER_HOST to its socket") from exc


def connect(timeout: int = 600) -> Any:
    """A docker.DockerClient for DOCKER_HOST, checked with a ping."""
    import docker

    with engine_errors("connecting"):
        client = docker.from_env(timeout=timeout)
        client.ping()
    return client


@dataclass(frozen=True)
class BuildResult:
    image: str
    image_id: str
    seconds: float


def build_image(client: Any, context: str, image: str, *, nocache: bool,
                buildargs: dict[str, str] | None = None,
                on_line: Callable[[str], None] = lambda line: None) -> BuildResult:
    """Build `context` (with its Dockerfile) as `image`, streaming the engine's output lines.

    The image the tag pointed at before is removed once the new one is built (when no other
    tag or container holds it): each rebuild would otherwise leave a dangling image behind.
    """
    started = time.monotonic()
    replaced = image_id_of(client, image)
    tail: list[str] = []
    image_id = None
    with engine_errors(f"building {image}"):
        events = client.api.build(path=context, tag=image, nocache=nocache, rm=True,
                                  forcerm=True, decode=True, buildargs=buildargs or {},
                                  pull=False)
        for event in events:
            if "error" in event or "errorDetail" in event:
                message = (event.get("errorDetail") or {}).get("message") or event.get("error")
                raise BuildFailed(f"building {image} failed: {str(message).strip()}",
                                  log_tail=tail[-30:])
            text = event.get("stream") or event.get("status") or ""
            for line in text.splitlines():
                if line.strip():
                    tail.append(line)
                    on_line(line)
            aux = event.get("aux") or {}
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = aux["ID"]
        if image_id is None:
            image_id = client.images.get(image).id
    if replaced and not _same_image(replaced, image_id):
        _remove_quietly(client, replaced)
    return BuildResult(image=image, image_id=image_id, seconds=time.monotonic() - started)


def image_id_of(client: Any, image: str) -> str | None:
    """The id of the image a tag names on the engine, or None when there is none."""
    import docker.errors

    try:
        return client.images.get(image).id
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if getattr(exc, "status_code", None) == 404:
            return None
        raise


def _same_image(one: str, other: str) -> bool:
    strip = lambda value: value.removeprefix("sha256:")  # noqa: E731
    return strip(one).startswith(strip(other)) or strip(other).startswith(strip(one))


def _remove_quietly(client: Any, image_id: str) -> None:
    """Remove a replaced image; one still used (another tag, a container) is left alone."""
    import docker.errors

    try:
        client.images.remove(image_id, noprune=False)
        log.info("removed the replaced image %s", image_id[:19])
    except docker.errors.APIError as exc:
        log.info("kept the replaced image %s: %s", image_id[:19], exc.explanation or exc)


@dataclass(frozen=True)
class RunningContainer:
    id: str
    url: str  # http://127.0.0.1:<port>


def run_container(client: Any, image: str, *, gpu: bool = False,
                  environment: dict[str, str] | None = None) -> tuple[Any, RunningContainer]:
    """Start `image` detached, published on 127.0.0.1 only, on a port the engine picks."""
    import docker.errors
    import docker.types

    try:
        client.images.get(image)  # never let `run` fall back to pulling from a registry
    except docker.errors.ImageNotFound:
        raise EngineError(f"no image {image} on the engine at {describe_host()}",
                          hint="build it first with `packager build`") from None
    device_requests = ([docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
                       if gpu else None)
    with engine_errors(f"starting {image}"):
        container = client.containers.run(
            image, detach=True, ports={CONTAINER_PORT: ("127.0.0.1", None)},
            environment=environment or {}, device_requests=device_requests)
        container.reload()
        bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(
            CONTAINER_PORT) or []
    if not bindings:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        raise EngineError(f"the engine published no port for {image}'s {CONTAINER_PORT}")
    port = int(bindings[0]["HostPort"])
    return container, RunningContainer(id=container.id, url=f"http://127.0.0.1:{port}")
