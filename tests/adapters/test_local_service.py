"""The one local launcher (`local_service`, what `packager run`/`test` start) and the one
readiness wait (`wait_healthy`), over a real `pesto-runtime serve` on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from pesto_factory.adapters.client import ServiceClient
from pesto_factory.adapters.local import ServiceStartFailed, local_service, wait_healthy

from tests.conftest import EXAMPLES, free_port

pytestmark = pytest.mark.slow


def test_local_service_serves_the_project_and_cleans_up() -> None:
    with local_service(EXAMPLES / "ndvi", timeout=60) as service:
        with ServiceClient(service.url) as client:
            assert client.health() and client.describe()["title"]
        folder = Path(service.log).parent
        assert folder.is_dir()
    assert not folder.exists()  # the throw-away state and outputs went with it


def test_wait_healthy_gives_up_at_once_when_the_service_is_gone() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceStartFailed, match="service 'x' exited: boom"):
        wait_healthy(url, name="x", timeout=60, exited=lambda: "exited: boom")
    with pytest.raises(ServiceStartFailed, match=r"service 'y' was not healthy after 0 s"):
        wait_healthy(url, name="y", timeout=0.3, exited=lambda: None)
