"""`PestoProcessOperator`: calls of a PESTO service as one Airflow task.

The operator sends its `inputs` (templated: Jinja, XComArgs) to the service of the connection
`pesto_conn_id` (templated too) and returns the service's outputs as the task's XCom return
value. Images travel by reference (file:// or http(s) URIs), never as pixels: XComs live in the
metadata database.

- One call (default): `batch=None`, the XCom is the output object.
- A batch: `batch=[{...}, {...}]` makes one call per element, each sending `inputs` and the
  typed parameters overridden by the element's inputs; at most `max_parallel` calls run at a
  time, and the XCom is the list of output objects in element order. A fan-out maps over
  batches (a chunk of tiles per mapped task) to stay far below `core.max_map_length`.
- `deferrable=False`: synchronous `POST /process` calls (in threads for a batch), whose answers
  carry image outputs as file:// references.
- `deferrable=True` (default: `[operators] default_deferrable`): `POST /jobs` for up to
  `max_parallel` calls, then the task defers to `PestoJobTrigger` (no worker slot while the
  jobs run); `execute_complete` reads the results and submits the next window, if any. JSON
  results are returned as they are, image results as the service lists them (a PESTO runtime:
  file:// references), else as the result's URL, wrapped `{"href": URL}` for the outputs in
  `reference_outputs`.

Failures follow Airflow's retry semantics (`pesto_factory.adapters.airflow._failures`): only a
mistake of the caller (4xx) is an `AirflowFailException`; a busy service (429/503) is asked
again inside the task after its Retry-After, for up to `busy_timeout` seconds; every other
passing condition raises `AirflowException`, so the task's `retries` apply. `on_kill` stops a
batch and cancels the jobs the task submitted; a deferred task is cancelled by the trigger's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from airflow.sdk import BaseOperator, BaseOperatorLink
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from pesto_factory.adapters.airflow._failures import is_busy, task_exception
from pesto_factory.adapters.airflow.hooks.pesto import PestoHook
from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger
from pesto_factory.adapters.client import ServiceClient, ServiceError

__all__ = ["JOB_URL_KEY", "PestoJobLink", "PestoProcessOperator", "plain"]

T = TypeVar("T")

#: XCom key of the task's extra link: the status URL of the first job it submitted, else the
#: service's describe URL (pushed first, so the link never reads a missing XCom).
JOB_URL_KEY = "pesto_job_url"


def plain(value: Any) -> Any:
    """`value` as plain JSON containers: Airflow hands lazy XCom sequences and mapping
    proxies to templated fields, which the HTTP client cannot serialise. A lazy sequence (the
    outputs of a mapped task) is read in one slice, not item by item until a miss."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [plain(item) for item in value[:]]
    return value


class PestoJobLink(BaseOperatorLink):
    """The operator's extra link "PESTO job": the status of the first job the task submitted
    (deferrable), else the service's describe document."""

    name = "PESTO job"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=JOB_URL_KEY) or ""


class PestoProcessOperator(BaseOperator):
    """Call a PESTO service with `inputs` (once, or once per `batch` element); return its
    outputs (references) as XCom.

    :param inputs: the service's inputs (templated); None values are not sent
    :param pesto_conn_id: the Airflow connection of the service (templated; see `PestoHook`)
    :param batch: one call per element (a mapping of inputs over `inputs`); returns a list
    :param max_parallel: calls of a batch running at a time (threads, or jobs per deferral)
    :param deferrable: submit jobs and wait in the triggerer instead of blocking calls
        (default: the `[operators] default_deferrable` option)
    :param poll_interval: seconds before the first status poll; grows x1.5 per poll up to
        `max_poll_interval`
    :param job_timeout: seconds the deferred jobs of the task may take in all (None: no limit);
        then they are cancelled and the task fails (retried)
    :param process_timeout: seconds a synchronous call may take (default: the connection's
        `process_timeout` extra, else 3660)
    :param busy_timeout: seconds the task keeps asking a busy service (429/503, refused
        connection) again, after its Retry-After, before failing (retried)
    """

    template_fields: Sequence[str] = ("inputs", "pesto_conn_id", "batch")
    template_fields_renderers: ClassVar[dict[str, str]] = {"inputs": "json", "batch": "json"}
    operator_extra_links = (PestoJobLink(),)
    ui_color = "#d8ecd0"
    #: The service a generated subclass calls (for messages); None for the generic operator.
    service_name: ClassVar[str | None] = None
    #: The typed input parameters of a generated subclass, sent besides `inputs`.
    input_names: ClassVar[tuple[str, ...]] = ()
    #: Image outputs declared as ImageRef objects: a deferred job's result URL is wrapped.
    reference_outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, inputs: Mapping[str, Any] | str | None = None,
                 pesto_conn_id: str = PestoHook.default_conn_name,
                 batch: Sequence[Mapping[str, Any]] | str | None = None, max_parallel: int = 4,
                 deferrable: bool | None = None, poll_interval: float = 2.0,
                 max_poll_interval: float = 30.0, job_timeout: float | None = None,
                 process_timeout: float | str | None = "connection",
                 busy_timeout: float = 300.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_parallel < 1:
            raise ValueError(f"task {self.task_id!r}: max_parallel must be >= 1, got "
                             f"{max_parallel}")
        self.inputs = inputs
        self.pesto_conn_id = pesto_conn_id
        self.batch = batch
        self.max_parallel = max_parallel
        self.deferrable = (conf.getboolean("operators", "default_deferrable", fallback=False)
                           if deferrable is None else deferrable)
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.job_timeout = job_timeout
        self.process_timeout = process_timeout
        self.busy_timeout = busy_timeout
        self._stop: threading.Event | None = None
        self._job_ids: list[str] = []

    @property
    def _what(self) -> str:
        service = f"service {self.service_name!r}" if self.service_name else "the service"
        return f"{service} (connection {self.pesto_conn_id!r})"

    def payload(self) -> dict[str, Any]:
        """The rendered inputs as sent: `inputs`, then the typed parameters over them."""
        sent = {key: value for key, value in plain(self.inputs or {}).items()
                if value is not None}
        for name in self.input_names:
            value = getattr(self, name, None)
            if value is not None:
                sent[name] = plain(value)
        return sent

    def calls(self) -> list[dict[str, Any]]:
        """The payload of every call: one, or one per batch element (its inputs over)."""
        base = self.payload()
        if self.batch is None:
            return [base]
        batch = plain(self.batch)
        if not isinstance(batch, list) or not all(isinstance(one, dict) for one in batch):
            raise AirflowFailException(f"task {self.task_id!r}: batch must be a list of input "
                                       f"objects, got {type(batch).__name__}")
        return [{**base, **{k: v for k, v in one.items() if v is not None}} for one in batch]

    def _client(self) -> ServiceClient:
        return PestoHook(self.pesto_conn_id, process_timeout=self.process_timeout).get_conn()

    def _stopping(self) -> threading.Event:
        if self._stop is None:
            self._stop = threading.Event()
        return self._stop

    def _patiently(self, call: Callable[[], T]) -> T:
        """`call()`, asked again while the service is busy (its Retry-After, else 1 s
        doubling up to 30 s) for `busy_timeout` seconds; errors as Airflow's exceptions."""
        stop, waited, attempt = self._stopping(), 0.0, 0
        while True:
            if stop.is_set():
                raise AirflowException(f"{self._what}: the task was killed")
            try:
                return call()
            except ServiceError as error:
                delay = error.retry_after if error.retry_after is not None \
                    else min(2.0 ** attempt, 30.0)
                if not is_busy(error) or waited + delay > self.busy_timeout:
                    raise task_exception(self._what, error) from error
                self.log.info("%s is busy (%s); asking again in %.1f s", self._what,
                              error.status_code or "no connection", delay)
                stop.wait(delay)
                waited += delay
                attempt += 1

    def execute(self, context: Any) -> Any:
        calls = self.calls()
        with self._client() as client:
            self._push_link(context, f"{client.base_url}/describe")
        if self.deferrable:
            return self._submit_window(context, calls, 0, [], time.time())
        started = time.monotonic()
        with self._client() as client:
            outputs = self._run_sync(client, calls)
        self.log.info("%s: %d call(s) done in %.1f s", self._what, len(calls),
                      time.monotonic() - started)
        return outputs if self.batch is not None else outputs[0]

    def _run_sync(self, client: ServiceClient, calls: list[dict[str, Any]]) -> list[Any]:
        if len(calls) == 1:
            return [self._patiently(lambda: client.process(calls[0]))]
        with ThreadPoolExecutor(min(self.max_parallel, len(calls)),
                                thread_name_prefix="pesto-call") as pool:
            futures = [pool.submit(self._patiently, lambda p=payload: client.process(p))
                       for payload in calls]
            try:
                return [future.result() for future in futures]
            except BaseException:
                self._stopping().set()  # the other calls of the batch are not started
                for future in futures:
                    future.cancel()
                raise

    def _submit_window(self, context: Any, calls: list[dict[str, Any]], start: int,
                       done: list[Any], began: float) -> None:
        """Submit the calls `start...` (up to max_parallel) as jobs and defer until they end."""
        window = calls[start:start + self.max_parallel]
        self._job_ids = []
        with self._client() as client:
            try:
                for payload in window:
                    job = self._patiently(lambda p=payload: client.submit(p))
                    self._job_ids.append(job.id)
                    if start == 0 and len(self._job_ids) == 1:
                        self._push_link(context, job.href)
            except BaseException:
                self._cancel(client, self._job_ids)
                raise
        self.log.info("%s: job(s) %s submitted (calls %d-%d of %d); deferring", self._what,
                      ", ".join(self._job_ids), start + 1, start + len(window), len(calls))
        deadline = began + self.job_timeout if self.job_timeout is not None else None
        # the progress rides in the trigger's event (next_kwargs are not renewed on a re-defer)
        self.defer(trigger=PestoJobTrigger(pesto_conn_id=self.pesto_conn_id,
                                           job_ids=self._job_ids,
                                           poll_interval=self.poll_interval,
                                           max_poll_interval=self.max_poll_interval,
                                           deadline=deadline,
                                           carry={"done": done, "began": began}),
                   method_name="execute_complete")

    @staticmethod
    def _push_link(context: Any, url: str) -> None:
        ti = context.get("ti") if isinstance(context, Mapping) else None
        if ti is not None and url:
            ti.xcom_push(key=JOB_URL_KEY, value=url)

    def execute_complete(self, context: Any, event: Mapping[str, Any]) -> Any:
        """Resume after the trigger: fail on an error event, else read the window's outputs
        and submit the next window, or return all outputs."""
        job_ids = [str(one) for one in event.get("job_ids") or [event.get("job_id")]]
        if event.get("status") != "success":
            message = (f"{self._what}: job {event.get('job_id')} failed: "
                       f"{event.get('message') or 'no reason given'}")
            if event.get("retryable"):
                raise AirflowException(message)
            raise AirflowFailException(message)
        carry = event.get("carry") or {}
        outputs = list(carry.get("done") or [])
        with self._client() as client:
            for job_id in job_ids:
                try:
                    links = client.results(job_id)
                    outputs.append({name: self._output(client, job_id, name, link)
                                    for name, link in links.items()})
                except ServiceError as error:
                    raise task_exception(self._what, error) from error
        calls = self.calls()
        began = float(carry.get("began") or time.time())
        if len(outputs) < len(calls):
            return self._submit_window(context, calls, len(outputs), outputs, began)
        self.log.info("%s: %d job(s) finished, %.1f s after the first was submitted",
                      self._what, len(outputs), time.time() - began)
        return outputs if self.batch is not None else outputs[0]

    def _output(self, client: Any, job_id: str, name: str, link: Any) -> Any:
        """The output as a sync call gives it: the listed value (file:// references), else
        the result itself for JSON, else its URL (a service that lists no values)."""
        if link.has_value:
            return link.value
        return client.result(job_id, name) if link.is_json else self._ref(name, link.href)

    def _ref(self, name: str, url: str) -> Any:
        return {"href": url} if name in self.reference_outputs else url

    def _cancel(self, client: ServiceClient, job_ids: Sequence[str]) -> None:
        for job_id in list(job_ids):
            try:
                client.cancel(job_id)
                self.log.info("%s: job %s cancelled", self._what, job_id)
            except ServiceError as error:
                self.log.warning("%s: could not cancel job %s: %s", self._what, job_id,
                                 error.message)

    def on_kill(self) -> None:
        """Stop a running batch and cancel the jobs this task submitted (not yet deferred)."""
        self._stopping().set()
        if self._job_ids:
            with self._client() as client:
                self._cancel(client, self._job_ids)
