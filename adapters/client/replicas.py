"""One service served by several replicas with nothing in front of them.

On a cluster a Service spreads requests over a Deployment's pods; a client given the replicas'
own URLs (one host, `podman kube play`, or pods addressed directly) does it itself: each call
goes to the replica with the fewest calls in flight, and a replica that does not answer (killed,
restarting, refusing connections) is set aside for a cool-down while the same call goes to
another one. A call is sent again only when no answer came back, or the answer says the job
never ran to the end (503, an interrupted job), so an item's result is recorded once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pesto_factory.adapters.client.client import ServiceClient
from pesto_factory.adapters.client.errors import ServiceError

__all__ = ["ReplicaSet"]


def _answered_nothing(error: ServiceError) -> bool:
    """No answer, or one saying the call did not run: safe to send to another replica."""
    return error.status_code in (None, 502, 503, 504)


class ReplicaSet:
    """A ServiceClient-like `process` over several replicas of one service."""

    def __init__(self, urls: Sequence[str], *, token: str | None = None,
                 process_timeout: float | None = None, cooldown: float = 3.0,
                 give_up_after: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, **client_options: Any) -> None:
        if not urls:
            raise ValueError("a replica set needs at least one URL")
        self.clients = [ServiceClient(url, token=token, process_timeout=process_timeout,
                                      **client_options) for url in urls]
        self.cooldown = cooldown
        self.give_up_after = give_up_after
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._in_flight: Counter[int] = Counter()
        # Ties go to a replica in an order of this set's own: many short-lived sets (one per
        # Airflow task, say) then spread their first calls instead of all picking the first.
        self._order = random.sample(range(len(self.clients)), len(self.clients))
        self._down_until: dict[int, float] = {}
        #: Calls answered by each replica (base URL -> count): how the work was spread.
        self.answered: Counter[str] = Counter()
        #: Calls sent again to another replica after one did not answer.
        self.resent = 0

    @property
    def base_url(self) -> str:
        return self.clients[0].base_url

    def _pick(self) -> tuple[int | None, float]:
        """The least busy replica not cooling down, or None and the seconds to wait."""
        now = self._clock()
        with self._lock:
            ready = [i for i in range(len(self.clients)) if self._down_until.get(i, 0) <= now]
            if not ready:
                return None, min(self._down_until.values()) - now
            index = min(ready, key=lambda i: (self._in_flight[i], self._order.index(i)))
            self._in_flight[index] += 1
            return index, 0.0

    def process(self, inputs: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        deadline = self._clock() + self.give_up_after
        last: ServiceError | None = None
        while True:
            index, wait = self._pick()
            if index is None:
                if self._clock() + wait > deadline:
                    assert last is not None
                    raise last
                self._sleep(max(wait, 0.05))
                continue
            client = self.clients[index]
            try:
                result = client.process(inputs, **options)
            except ServiceError as error:
                if not _answered_nothing(error):
                    raise
                last = error
                with self._lock:
                    self._down_until[index] = self._clock() + self.cooldown
                    self.resent += 1
                continue
            finally:
                with self._lock:
                    self._in_flight[index] -= 1
            with self._lock:
                self.answered[client.base_url] += 1
            return result

    def describe(self) -> dict[str, Any]:
        last: ServiceError | None = None
        for client in self.clients:
            try:
                return client.describe()
            except ServiceError as error:
                last = error
        assert last is not None
        raise last

    def __getattr__(self, name: str) -> Any:
        """Everything but `process` (jobs: submit, status, results, cancel) is the first
        replica's: a job lives on the replica that accepted it."""
        if name == "clients":  # not set yet (a failed __init__)
            raise AttributeError(name)
        return getattr(self.clients[0], name)

    def split(self) -> Mapping[str, int]:
        """Calls answered per replica URL (every replica listed, 0 included)."""
        return {client.base_url: self.answered[client.base_url] for client in self.clients}

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def __enter__(self) -> ReplicaSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
