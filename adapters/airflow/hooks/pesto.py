"""`PestoHook`: an Airflow connection to one PESTO service, turned into its REST client.

A connection names where a service answers: `conn_type` http (or pesto), `host`, `port`,
`schema` (the URL scheme, http by default) and `password`, sent as the bearer token. A host that
already holds a scheme (`http://svc:8080`) is used as given. The hook hands out the adapters'
`ServiceClient` (tasks) or `AsyncServiceClient` (triggers): Airflow code never speaks HTTP itself.

    AIRFLOW_CONN_PESTO_MERGE='{"conn_type": "http", "host": "127.0.0.1", "port": 8083}'
    with PestoHook("pesto_merge").get_conn() as client: client.process({...})
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from pesto_factory.adapters.client import (
    DEFAULT_PROCESS_TIMEOUT,
    DEFAULT_TIMEOUT,
    AsyncServiceClient,
    ServiceClient,
)

__all__ = ["PestoHook", "service_url"]


def service_url(conn: Any) -> str:
    """The service's base URL from a connection's host, port and schema (the URL scheme)."""
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        raise ValueError(f"connection {conn.conn_id!r} has no host: set the service's host")
    if "://" in host:
        return host
    scheme = (conn.schema or "http").strip() or "http"
    return f"{scheme}://{host}:{conn.port}" if conn.port else f"{scheme}://{host}"


class PestoHook(BaseHook):
    """A PESTO service reached through the Airflow connection `pesto_conn_id`.

    `timeout` bounds ordinary calls, `process_timeout` synchronous process calls (seconds)."""

    conn_name_attr = "pesto_conn_id"
    default_conn_name = "pesto_default"
    conn_type = "pesto"
    hook_name = "PESTO service"

    def __init__(self, pesto_conn_id: str = default_conn_name, *,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 process_timeout: float | None = DEFAULT_PROCESS_TIMEOUT) -> None:
        super().__init__()
        self.pesto_conn_id = pesto_conn_id
        self.timeout = timeout
        self.process_timeout = process_timeout

    def get_conn(self) -> ServiceClient:
        """A blocking client of the service (close it, or use it in a `with`)."""
        conn = self.get_connection(self.pesto_conn_id)
        return ServiceClient(service_url(conn), token=conn.password or None,
                             timeout=self.timeout, process_timeout=self.process_timeout)

    async def aget_conn(self) -> AsyncServiceClient:
        """An asyncio client of the service, for triggers (the connection is read async)."""
        conn = await self.aget_connection(self.pesto_conn_id)
        return AsyncServiceClient(service_url(conn), token=conn.password or None,
                                  timeout=self.timeout, process_timeout=self.process_timeout)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: the schema field is the URL scheme, the password the token."""
        return {"hidden_fields": ["extra", "login"],
                "relabeling": {"schema": "Scheme (http or https)", "password": "Bearer token"},
                "placeholders": {"host": "127.0.0.1", "port": "8080", "schema": "http"}}
