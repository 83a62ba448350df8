"""`OgcProcessClient`: one process of any OGC API - Processes server, called like a service.

    with OgcProcessClient("http://127.0.0.1:5000/processes/hello-world") as process:
        outputs = process.process({"name": "World"})    # {"echo": {...}}

The embedded runner names such a step's service by its process URL (`.../processes/{id}`): a
pygeoapi, ZOO-Project or PESTO service alike. `process` executes (synchronously; a server that
answers 201 anyway is polled through the job's Location until it ends) and gives the outputs as
plain values, as the geoprocessing API would: a link becomes its `href` (or an ImageRef-like
object when the output's schema is an object), a qualified value its `value`. Image inputs
(a string input whose schema has a contentMediaType or contentEncoding) are sent as links.
Failures are the client's `ServiceError`s; RFC 7807 problem bodies are read by
`error_from_response`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pesto_factory.adapters.client.client import DEFAULT_PROCESS_TIMEOUT, DEFAULT_TIMEOUT
from pesto_factory.adapters.client.errors import (
    JobFailed,
    UnexpectedResponse,
    WaitTimeout,
    error_from_response,
    transport_errors,
)

__all__ = ["OgcProcessClient", "is_process_url", "plain_outputs"]

_PROCESS_URL = re.compile(r"^(https?://[^?#]+?)/processes/([^/?#]+)/?$")
_LINK = frozenset({"href", "rel", "type", "hreflang", "title", "length"})
_QUALIFIED = frozenset({"value", "mediaType", "encoding", "schema"})
_RESULTS_REL = "http://www.opengis.net/def/rel/ogc/1.0/results"
_USER_AGENT = "pesto-factory-client/0.1 (OGC API - Processes)"


def is_process_url(url: str) -> bool:
    """Whether `url` names one process of an OGC API - Processes server."""
    return _PROCESS_URL.match(url.strip()) is not None


class OgcProcessClient:
    """A blocking client of one OGC process; a context manager, or `close()` it."""

    def __init__(self, process_url: str, *, token: str | None = None,
                 transport: httpx.BaseTransport | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 process_timeout: float | None = DEFAULT_PROCESS_TIMEOUT,
                 poll_interval: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        match = _PROCESS_URL.match(process_url.strip())
        if match is None:
            raise ValueError(f"OGC process URL {process_url!r}: expected "
                             "http(s)://HOST/.../processes/PROCESS_ID")
        self.root, self.process_id = match.group(1), match.group(2)
        self.url = f"{self.root}/processes/{self.process_id}"
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(transport=transport, headers=headers, timeout=timeout)
        self._process_timeout = process_timeout
        self._poll_interval = poll_interval
        self._sleep = sleep
        self._description: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"OgcProcessClient({self.url!r})"

    # --- HTTP ---------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, url, **kwargs)
        with transport_errors(request):
            response = self._http.send(request)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponse(f"{response.request.url}: the answer is not JSON",
                                     url=str(response.request.url)) from None

    # --- the calls ----------------------------------------------------------------------
    def description(self) -> dict[str, Any]:
        """The process description (inputs and outputs with their schemas), read once."""
        if self._description is None:
            body = self._json(self._send("GET", self.url))
            if not isinstance(body, dict):
                raise UnexpectedResponse(f"{self.url}: a process description is an object")
            self._description = body
        return self._description

    def describe(self) -> None:
        """No geoprocessing describe document: the runner skips its type checks."""
        return None

    def process(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Execute with `inputs` (plain values); the outputs as plain values by output id."""
        description = self.description()
        # no `response`: the server's default (a results document here; pygeoapi: the outputs)
        body = {"inputs": _ogc_inputs(inputs, description.get("inputs") or {})}
        response = self._send("POST", f"{self.url}/execution", json=body,
                              timeout=self._process_timeout)
        # 201: the server chose to run a job (a process that executes asynchronously only)
        document = self._wait(response) if response.status_code == 201 else self._json(response)
        return plain_outputs(document, description.get("outputs") or {})

    def _wait(self, created: httpx.Response) -> Any:
        status = self._json(created)
        location = created.headers.get("location") or _link(status, "monitor") \
            or f"{self.root}/jobs/{status.get('jobID')}"
        deadline = None if self._process_timeout is None \
            else time.monotonic() + self._process_timeout
        while status.get("status") not in ("successful", "failed", "dismissed"):
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeout(f"job {status.get('jobID')} of {self.url} still "
                                  f"{status.get('status')} after {self._process_timeout} s",
                                  job_id=str(status.get("jobID")))
            self._sleep(self._poll_interval)
            status = self._json(self._send("GET", location))
        job_id = str(status.get("jobID"))
        if status["status"] != "successful":
            reason = status.get("message") or "no reason given"
            raise JobFailed(f"job {job_id} of {self.url} {status['status']}: {reason}",
                            job_id=job_id, status=status["status"], service_message=reason)
        results = _link(status, _RESULTS_REL) or f"{self.root}/jobs/{job_id}/results"
        return self._json(self._send("GET", results))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OgcProcessClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _link(document: Any, rel: str) -> str | None:
    links = document.get("links") if isinstance(document, dict) else None
    for link in links or ():
        if isinstance(link, dict) and link.get("rel") == rel and link.get("href"):
            return str(link["href"])
    return None


def _is_binary(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "string" and bool(
        schema.get("contentMediaType") or schema.get("contentEncoding"))


def _ogc_inputs(inputs: Mapping[str, Any], described: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values as OGC inputs: an image URI (a binary string input) becomes a link."""
    result = {}
    for name, value in inputs.items():
        schema = (described.get(name) or {}).get("schema")
        if isinstance(value, str) and _is_binary(schema) and "://" in value[:16]:
            result[name] = {"href": value}
        else:
            result[name] = value
    return result


def plain_outputs(document: Any, described: Mapping[str, Any]) -> dict[str, Any]:
    """A results document as the plain outputs the geoprocessing API would answer. A server
    answering one output's value alone gets it named after that output, and the draft-era
    document `{"outputs": [{"id": ..., "value": ...}]}` (pygeoapi's) is read too."""
    entries = document.get("outputs") if isinstance(document, dict) else None
    if isinstance(document, dict) and document.get("id") in described and (
            "value" in document or "href" in document):
        entries = [document]  # one draft-era entry alone
    if isinstance(entries, list) and "outputs" not in described and all(
            isinstance(entry, dict) and "id" in entry for entry in entries):
        document = {entry["id"]: {key: item for key, item in entry.items() if key != "id"}
                    for entry in entries}
    if isinstance(document, dict) and (not described or set(document) & set(described)):
        return {name: _plain(value, (described.get(name) or {}).get("schema"))
                for name, value in document.items()}
    if len(described) == 1:
        name = next(iter(described))
        return {name: _plain(document, described[name].get("schema"))}
    raise UnexpectedResponse(f"the results name none of the outputs ({', '.join(described)}): "
                             f"{str(document)[:200]}")


def _plain(value: Any, schema: Any) -> Any:
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        return [_plain(item, items if items is not None else schema) for item in value]
    if not isinstance(value, dict):
        return value
    keys = set(value)
    if "value" in keys and keys <= _QUALIFIED:
        return value["value"]
    href = value.get("href")
    if isinstance(href, str):  # a link: its href, or a reference object (an ImageRef)
        reference = {key: item for key, item in value.items()
                     if key == "href" or key not in _LINK}
        wants_object = isinstance(schema, dict) and schema.get("type") == "object"
        return reference if wants_object or len(reference) > 1 else href
    return value
