"""`PestoProcessOperator`: one call of a PESTO service as an Airflow task.

The operator sends its `inputs` (templated: Jinja, XComArgs) to the service of the connection
`pesto_conn_id` and returns the service's outputs as the task's XCom return value. Images travel
by reference (file:// or http(s) URIs), never as pixels: XComs live in the metadata database.

- `deferrable=False` (default): one synchronous `POST /process`, whose answer carries image
  outputs as file:// references.
- `deferrable=True`: `POST /jobs`, then the task defers to `PestoJobTrigger` (no worker slot
  while the job runs); `execute_complete` reads the results: JSON values as they are, image
  results as the URL of the result (`.../jobs/ID/results/NAME`), wrapped as an ImageRef
  `{"href": URL}` for the outputs listed in `reference_outputs` (generated operators list the
  ImageRef outputs of their describe document), so the next service gets the same shape as
  from a synchronous call. The next service must then read http:// inputs from this one.

Errors: a refusal of the input (4xx), a failed job or a timeout fail the task at once
(`AirflowFailException`: running it again would fail again); a full queue, a 5xx or an
unreachable service raise `AirflowException`, which Airflow retries per the task's `retries`.
Generated operators (`pesto_factory.adapters.airflow.generate`) subclass this one with typed parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from pesto_factory.adapters.airflow.hooks.pesto import PestoHook
from pesto_factory.adapters.airflow.triggers.pesto import PestoJobTrigger
from pesto_factory.adapters.client import DEFAULT_PROCESS_TIMEOUT, ServiceClient, ServiceError

__all__ = ["PestoProcessOperator", "plain"]


def plain(value: Any) -> Any:
    """`value` as plain JSON containers: Airflow hands lazy XCom sequences and mapping
    proxies to templated fields, which the HTTP client cannot serialise."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return [plain(item) for item in value]
    return value


@contextlib.contextmanager
def _task_errors(what: str) -> Iterator[None]:
    """Re-raise a ServiceError as Airflow's retried or final task failure."""
    try:
        yield
    except ServiceError as error:
        message = f"{what}: {error.message}"
        if error.hint:
            message += f" (hint: {error.hint})"
        if error.retryable:
            raise AirflowException(message) from error
        raise AirflowFailException(message) from error


class PestoProcessOperator(BaseOperator):
    """Call a PESTO service once with `inputs`; return its outputs (references) as XCom.

    :param inputs: the service's inputs (templated); None values are not sent
    :param pesto_conn_id: the Airflow connection of the service (see `PestoHook`)
    :param deferrable: submit a job and wait in the triggerer instead of a blocking call
    :param poll_interval: seconds between status polls of a deferred job
    :param job_timeout: seconds a deferred job may take (None: no limit)
    :param process_timeout: seconds a synchronous call may take
    """

    template_fields: Sequence[str] = ("inputs",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"inputs": "json"}
    ui_color = "#d8ecd0"
    #: The service a generated subclass calls (for messages); None for the generic operator.
    service_name: ClassVar[str | None] = None
    #: The typed input parameters of a generated subclass, sent besides `inputs`.
    input_names: ClassVar[tuple[str, ...]] = ()
    #: Image outputs declared as ImageRef objects: a deferred job's result URL is wrapped.
    reference_outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, inputs: Mapping[str, Any] | None = None,
                 pesto_conn_id: str = PestoHook.default_conn_name, deferrable: bool = False,
                 poll_interval: float = 2.0, job_timeout: float | None = None,
                 process_timeout: float | None = DEFAULT_PROCESS_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inputs = inputs
        self.pesto_conn_id = pesto_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.process_timeout = process_timeout

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

    def _client(self) -> ServiceClient:
        return PestoHook(self.pesto_conn_id, process_timeout=self.process_timeout).get_conn()

    def execute(self, context: Any) -> Any:
        payload = self.payload()
        with _task_errors(self._what), self._client() as client:
            if not self.deferrable:
                return client.process(payload)
            job = client.submit(payload)
        self.log.info("%s: job %s submitted; deferring", self._what, job.id)
        self.defer(trigger=PestoJobTrigger(pesto_conn_id=self.pesto_conn_id, job_id=job.id,
                                           poll_interval=self.poll_interval,
                                           timeout=self.job_timeout),
                   method_name="execute_complete")
        return None  # not reached: defer() raises TaskDeferred

    def execute_complete(self, context: Any, event: Mapping[str, Any]) -> Any:
        """Resume after the trigger: fail on an error event, else return the job's outputs."""
        if event.get("status") != "success":
            message = (f"{self._what}: job {event.get('job_id')} failed: "
                       f"{event.get('message') or 'no reason given'}")
            if event.get("retryable"):
                raise AirflowException(message)
            raise AirflowFailException(message)
        job_id = str(event["job_id"])
        with _task_errors(self._what), self._client() as client:
            links = client.results(job_id)
            return {name: self._output(client, job_id, name, link)
                    for name, link in links.items()}

    def _output(self, client: Any, job_id: str, name: str, link: Any) -> Any:
        """The output as a sync call gives it: the listed value (file:// references), else
        the result itself for JSON, else its URL (a service that lists no values)."""
        if link.has_value:
            return link.value
        return client.result(job_id, name) if link.is_json else self._ref(name, link.href)

    def _ref(self, name: str, url: str) -> Any:
        return {"href": url} if name in self.reference_outputs else url
