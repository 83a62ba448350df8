"""The worker process: loads the algorithm once, then runs one job at a time.

It runs in its own process so that an algorithm that raises, exits or segfaults costs one job,
never the service. Messages to the service are tuples, framed by wire.py:

    ("ready",) | ("start_failed", message)
    ("progress", job_id, percent, message)
    ("done", job_id, outputs, files) | ("error", job_id, PestoError)
"""

from __future__ import annotations

import ctypes
import importlib
import inspect
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pesto_factory.runtime.errors import AlgorithmFailed, PestoError
from pesto_factory.runtime.imageio.header import ImageBudget
from pesto_factory.runtime.imageio.policy import InputPolicy
from pesto_factory.runtime.jobs.wire import send_message

__all__ = ["WorkItem", "worker_main", "load_process_class", "portable_error"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkItem:
    """One job sent to a worker: the validated payload and where its outputs go (written in
    `output_dir`, then uploaded under `object_prefix` when outputs go to an object store)."""

    job_id: str
    payload: dict[str, Any]
    output_dir: str
    inline: bool = False
    object_prefix: str | None = None


def load_process_class(algorithm_dir: Path) -> type:
    """Import `<algorithm_dir>/process.py` as a package module and return its `Process`."""
    parent = str(algorithm_dir.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    module = importlib.import_module(f"{algorithm_dir.name}.process")
    try:
        return module.Process
    except AttributeError:
        raise AlgorithmFailed(f"{module.__file__} defines no class Process") from None


def _start_algorithm(process_class: type, config: dict[str, Any]) -> Any:
    instance = process_class()
    on_start = getattr(instance, "on_start", None)
    if on_start is not None:
        if "config" in inspect.signature(on_start).parameters:
            on_start(config=config)
        else:
            on_start()
    return instance


def portable_error(exc: PestoError) -> PestoError:
    """`exc` as a class the service can unpickle: the nearest one of pesto_factory.schemas.errors.

    An algorithm may raise its own PestoError subclass (a 422 for a bad band count, say); the
    service process never imported the algorithm, so it is sent as that subclass's base from
    pesto_factory.schemas.errors, keeping status, message and hint.
    """
    if type(exc).__module__ == "pesto_factory.schemas.errors":
        return exc
    import pesto_factory.schemas.errors as known

    base = next(cls for cls in type(exc).__mro__
                if cls.__module__ == "pesto_factory.schemas.errors" and issubclass(cls, PestoError))
    if base is known.ServiceBusy:
        return known.ServiceBusy(exc.message, hint=exc.hint)
    portable = base.__new__(base)
    Exception.__init__(portable, exc.message)
    portable.message, portable.hint = exc.message, exc.hint
    return portable


_PR_SET_PDEATHSIG = 1


def _die_with_the_service() -> None:
    """However the service dies (kill -9 included), this worker and its group die too.

    setpgrp() took the worker out of the service's process group, so a signal to that group
    no longer reaches it. Two independent ways kill the worker's whole group (grandchildren
    such as a tiling pool included) when the service is gone: the kernel's parent-death
    signal (Linux prctl, SIGTERM, whose handler kills the group: a SIGKILL there would spare
    the grandchildren), and a watchdog thread waiting on the parent's sentinel (a pipe whose
    other end only the service holds: EOF when it is gone).
    """
    signal.signal(signal.SIGTERM, _kill_own_group)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            logger.warning("no parent-death signal: relying on the watchdog thread")
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if parent.pid != os.getppid():  # the service died before the prctl: go now
        _kill_own_group()

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        _kill_own_group()

    threading.Thread(target=watch, name="pesto-lifeline", daemon=True).start()


def _kill_own_group(*_args: object) -> None:
    os.killpg(0, signal.SIGKILL)


def worker_main(jobs: Connection, messages: Connection, project_root: str,
                profiles: tuple[str, ...], policy: InputPolicy,
                budget: ImageBudget | None = None) -> None:
    """Entry point of a worker process (spawned: nothing is inherited but these arguments).

    `jobs` brings WorkItems; answers go out on `messages` as frames (see wire.py).
    """
    os.setpgrp()  # the service kills the worker with its whole group (tiling pools included)
    _die_with_the_service()
    fd = messages.fileno()
    lock = threading.Lock()  # progress may come from an algorithm's own threads

    def send(message: tuple) -> None:
        with lock:
            send_message(fd, message)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the service, which stops us
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    from pesto_factory.runtime import payload as payload_mod
    from pesto_factory.runtime.imageio.header import set_image_budget
    from pesto_factory.runtime.imageio.objectstore import ObjectLocation
    from pesto_factory.runtime.progress import set_reporter
    from pesto_factory.runtime.project import ServiceProject

    set_image_budget(budget or ImageBudget())
    try:
        project = ServiceProject.load(project_root, profiles)
        instance = _start_algorithm(load_process_class(project.algorithm_dir), project.config)
        georeferenced = payload_mod.georeferenced_parameters(instance.process)
        input_schema, output_schema = project.input_schema, project.output_schema
    except BaseException as exc:  # noqa: BLE001 - reported to the service, which stays up
        logger.exception("algorithm failed to start")
        send(("start_failed", f"algorithm failed to start: {type(exc).__name__}: {exc}"))
        return
    send(("ready",))
    while True:
        try:
            item: WorkItem = jobs.recv()
        except (EOFError, OSError):
            return  # the service went away
        set_reporter(lambda percent, text, _id=item.job_id: send(("progress", _id, percent, text)))
        try:
            kwargs = payload_mod.resolve_inputs(
                item.payload, input_schema, policy, georeferenced=georeferenced)
            result = instance.process(**kwargs)
            outputs, files = payload_mod.encode_outputs(
                result, output_schema, Path(item.output_dir), inline=item.inline,
                store=ObjectLocation.parse(item.object_prefix) if item.object_prefix else None)
            send(("done", item.job_id, outputs, tuple(files)))
        except PestoError as exc:
            send(("error", item.job_id, portable_error(exc)))
        except Exception as exc:  # noqa: BLE001 - the algorithm's fault becomes the job's
            logger.exception("job %s: algorithm raised", item.job_id)
            send(("error", item.job_id,
                  AlgorithmFailed(f"algorithm failed: {type(exc).__name__}: {exc}")))
        finally:
            set_reporter(None)
