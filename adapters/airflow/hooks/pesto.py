"""`PestoHook`: an Airflow connection to one PESTO service, turned into its REST client.

A connection names where a service answers: `conn_type` http (or pesto), `host`, `port`,
`schema` (the URL scheme, http by default) and `password`, sent as the bearer token. A host that
already holds a scheme (`http://svc:8080`) is used as given. The extras `timeout` and
`process_timeout` (seconds; the form's custom fields, see `_provider`) change the client's limits
when the hook's own arguments are left unset. The hook hands out the adapters'
`ServiceClient` (tasks) or `AsyncServiceClient` (triggers): Airflow code never speaks HTTP itself.

    AIRFLOW_CONN_PESTO_MERGE='{"conn_type": "http", "host": "127.0.0.1", "port": 8083}'
    with PestoHook("pesto_merge").get_conn() as client: client.process({...})
"""

from __future__ import annotations

import asyncio
from typing import Any

from airflow.sdk import BaseHook
from pesto_factory.adapters.airflow._provider import connection_type
from pesto_factory.adapters.client import (
    DEFAULT_PROCESS_TIMEOUT,
    DEFAULT_TIMEOUT,
    AsyncServiceClient,
    ReplicaSet,
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

    `timeout` bounds ordinary calls, `process_timeout` synchronous process calls (seconds);
    left unset, the connection's extras (or the client's defaults) decide."""

    conn_name_attr = "pesto_conn_id"
    default_conn_name = "pesto_default"
    conn_type = "pesto"
    hook_name = "PESTO service"

    def __init__(self, pesto_conn_id: str = default_conn_name, *,
                 timeout: float | None | str = "connection",
                 process_timeout: float | None | str = "connection") -> None:
        super().__init__()
        self.pesto_conn_id = pesto_conn_id
        self.timeout = timeout
        self.process_timeout = process_timeout

    def _client_args(self, conn: Any) -> dict[str, Any]:
        extra = conn.extra_dejson if conn.extra else {}
        limits = {}
        for name, default in (("timeout", DEFAULT_TIMEOUT),
                              ("process_timeout", DEFAULT_PROCESS_TIMEOUT)):
            value = getattr(self, name)
            if value == "connection":
                value = extra.get(name, default)
            limits[name] = float(value) if value is not None else None
        return {"base_url": service_url(conn), "token": conn.password or None, **limits}

    def get_conn(self) -> ServiceClient | ReplicaSet:
        """A blocking client of the service (close it, or use it in a `with`).

        With the extra `replicas` (a list of more base URLs of the same service, for replicas
        with no load balancer in front), synchronous calls spread over all of them and a
        replica that stops answering is left for the others; jobs stay with the first."""
        conn = self.get_connection(self.pesto_conn_id)
        args = self._client_args(conn)
        extra = conn.extra_dejson if conn.extra else {}
        replicas = extra.get("replicas") or []
        if isinstance(replicas, str):
            replicas = [url for url in replicas.split(",") if url.strip()]
        if not replicas:
            return ServiceClient(**args)
        return ReplicaSet([args.pop("base_url"), *replicas], **args)

    async def aget_conn(self) -> AsyncServiceClient:
        """An asyncio client of the service, for triggers (the connection is read async)."""
        conn = await self.aget_connection(self.pesto_conn_id)
        # httpx loads its TLS context when the client is made (~0.4 s): not on the event loop
        return await asyncio.to_thread(AsyncServiceClient, **self._client_args(conn))

    def test_connection(self) -> tuple[bool, str]:
        """The UI's and `airflow connections test`'s check: the service is healthy and
        describes itself."""
        try:
            with self.get_conn() as client:
                health = client.health().strip()
                describe = client.describe()
        except Exception as error:  # noqa: BLE001 - the form shows why, whatever it is
            return False, str(error)
        label = " ".join(str(describe.get(key)) for key in ("name", "version")
                         if describe.get(key)) or "the service"
        return True, f"{label} at {client.base_url}: {health or 'OK'}"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: the schema field is the URL scheme, the password the token."""
        form = connection_type()["ui-field-behaviour"]
        return {key.replace("-", "_"): value for key, value in form.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """No WTForms widgets: Airflow 3.2+ renders `CONN_FIELDS` from the provider info."""
        return {}
