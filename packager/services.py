"""A built image run as a service to call: a container published on 127.0.0.1.

The packager's only launcher of its own; a project run from its folder goes through the
embedded runner's (`pesto_factory.adapters.local.local_service`), and both wait with the same
`wait_healthy` and are called through the one REST client (`pesto_factory.adapters.client`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pesto_factory.adapters.local.services import wait_healthy
from pesto_factory.packager.engine import RunningContainer

__all__ = ["container_service"]


@contextlib.contextmanager
def container_service(image: str, *, gpu: bool = False, timeout: float = 90,
                      client: object | None = None) -> Iterator[RunningContainer]:
    """Run `image` published on 127.0.0.1 (random port) until healthy; yields it (`.url`) and
    removes the container on exit. Gives up early, with its log, when the container dies."""
    from pesto_factory.packager.engine import connect, run_container

    client = client or connect()
    container, running = run_container(client, image, gpu=gpu)

    def exited() -> str | None:
        with contextlib.suppress(Exception):
            container.reload()
            if container.status in ("exited", "dead"):
                logs = container.logs().decode("utf-8", "replace")
                return "exited before it was ready:\n" + "\n".join(logs.strip().splitlines()[-25:])
        return None

    try:
        wait_healthy(running.url, name=image, timeout=timeout, exited=exited)
        yield running
    finally:
        with contextlib.suppress(Exception):
            container.stop(timeout=5)
        with contextlib.suppress(Exception):
            container.remove(force=True)
