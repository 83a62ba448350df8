"""The services of a local run: `pesto-runtime serve` subprocesses on 127.0.0.1, started
together and always stopped together.

Each service gets its own folder under the run's output folder (`services/NAME/`: state,
outputs, log). They all read files from the same input roots, which cover the run's input
files and every service's output root, so a step can read what an earlier step wrote. With a
run-level object store (`output_store`, s3://bucket/run-id), each service writes its images
under `<store>/<NAME>/` instead, and its input roots are the run's input folders only: no
service can read another's folder, images move through the store alone. The
start waits for every health route with a deadline and gives up early, with the log's tail,
when a service exits. `local_service` is the same launcher for one service (what `packager
run` and `packager test` use), and `wait_healthy` the one readiness wait (a container too).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pesto_factory.adapters.client import ServiceClient, ServiceError
from pesto_factory.schemas.errors import PestoError

__all__ = ["LocalService", "LocalServices", "ServiceStartFailed", "local_service", "service_dir",
           "wait_healthy"]

#: Variables of the caller's environment that would change where a started service reads,
#: writes or listens, or what it demands: the runner sets them itself.
_OWN_VARIABLES = ("PESTO_PROFILES", "PESTO_API_TOKEN", "PESTO_STATE_DIR", "PESTO_OUTPUT_ROOT",
                  "PESTO_INPUT_ROOTS", "PESTO_PUBLIC_URL", "PESTO_WORKERS", "PESTO_PORT",
                  "PESTO_HOST", "PESTO_SERVICE_DIR", "PESTO_RESULT_RETENTION")
_STOP_GRACE = 15.0


class ServiceStartFailed(PestoError):
    """A service did not become healthy: it exited, or its health route stayed unready."""

    status_code = 503


def service_dir(run_dir: Path, name: str) -> Path:
    """Where a service of the run keeps its state, outputs and log."""
    return run_dir / "services" / name


@dataclass(frozen=True)
class LocalService:
    """A started service: its name, URL and where its outputs and log are."""

    name: str
    url: str
    project: Path
    profiles: tuple[str, ...]
    workers: int
    output_root: Path
    log: Path


@dataclass
class _Started:
    service: LocalService
    process: subprocess.Popen[bytes]


class LocalServices:
    """A set of local services; a context manager that stops them all on exit (error,
    Ctrl-C included)."""

    def __init__(self, run_dir: Path, *, input_roots: Sequence[Path],
                 all_services: Sequence[str], start_timeout: float = 120.0,
                 output_store: str | None = None) -> None:
        self.run_dir = run_dir
        self.start_timeout = start_timeout
        self.output_store = output_store.rstrip("/") if output_store else None
        shared = () if self.output_store else all_services
        roots = [*input_roots, *(service_dir(run_dir, name) / "outputs" for name in shared)]
        self._input_roots = os.pathsep.join(str(Path(root).resolve()) for root in roots)
        self._started: dict[str, _Started] = {}

    def start(self, name: str, project: Path, *, profiles: Sequence[str] = (),
              workers: int = 1) -> None:
        """Launch one service (returns at once: `wait_ready` waits for them all)."""
        folder = service_dir(self.run_dir, name)
        (folder / "state").mkdir(parents=True, exist_ok=True)
        (folder / "outputs").mkdir(parents=True, exist_ok=True)
        port = _free_port()
        environment = {key: value for key, value in os.environ.items()
                       if key not in _OWN_VARIABLES}
        environment.update({
            "PESTO_STATE_DIR": str(folder / "state"),
            "PESTO_OUTPUT_ROOT": (f"{self.output_store}/{name}" if self.output_store
                                  else str(folder / "outputs")),
            "PESTO_INPUT_ROOTS": self._input_roots, "PESTO_WORKERS": str(workers),
            "PESTO_RESULT_RETENTION": "0",  # the run's folder is the user's: never swept
        })
        command = [sys.executable, "-m", "pesto_factory.runtime.cli", "serve", str(project),
                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        for profile in profiles:
            command += ["--profile", profile]
        log = folder / "service.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=environment, cwd=folder)
        self._started[name] = _Started(
            LocalService(name, f"http://127.0.0.1:{port}", project, tuple(profiles), workers,
                         folder / "outputs", log), process)

    def wait_ready(self) -> dict[str, LocalService]:
        """Block until every started service answers health 200; ServiceStartFailed if one
        exits or the deadline passes (they start in parallel: one deadline for all)."""
        deadline = time.monotonic() + self.start_timeout
        for name, started in self._started.items():
            wait_healthy(started.service.url, name=name, timeout=self.start_timeout,
                         deadline=deadline, exited=lambda name=name: self._exit_report(name),
                         hint=f"its log: {started.service.log}")
        return self.services

    def _exit_report(self, name: str) -> str | None:
        started = self._started[name]
        if started.process.poll() is None:
            return None
        return (f"exited (code {started.process.returncode}) before it was ready:\n"
                f"{_tail(started.service.log)}")

    @property
    def services(self) -> dict[str, LocalService]:
        return {name: started.service for name, started in self._started.items()}

    def stop(self) -> None:
        """SIGTERM every service, wait for them to exit (SIGKILL after a grace period)."""
        for started in self._started.values():
            if started.process.poll() is None:
                started.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE
        for started in self._started.values():
            try:
                started.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()

    def __enter__(self) -> LocalServices:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_healthy(url: str, *, name: str, timeout: float, exited: Callable[[], str | None],
                 deadline: float | None = None, hint: str | None = None) -> None:
    """Poll `url`'s health route (through the REST client) until it answers 200.

    `exited()` returns why the service is gone (a log tail), or None while it runs: the wait
    then gives up at once rather than at the deadline. Raises ServiceStartFailed.
    """
    deadline = time.monotonic() + timeout if deadline is None else deadline
    last = "no answer"
    with ServiceClient(url, timeout=2) as client:
        while True:
            report = exited()
            if report is not None:
                raise ServiceStartFailed(f"service {name!r} {report}", hint=hint)
            try:
                client.health()
                return
            except ServiceError as exc:
                last = exc.service_message
            if time.monotonic() > deadline:
                raise ServiceStartFailed(
                    f"service {name!r} was not healthy after {timeout:.0f} s ({last})", hint=hint)
            time.sleep(0.2)


@contextlib.contextmanager
def local_service(project: Path, profiles: Sequence[str] = (), *, timeout: float = 60.0,
                  input_roots: Sequence[Path] | None = None) -> Iterator[LocalService]:
    """One `pesto-runtime serve` of `project` on 127.0.0.1 in a throw-away folder, until exit.

    What `packager run` and `packager test` start. `input_roots` default to the caller's
    PESTO_INPUT_ROOTS (the service's own outputs are always readable).
    """
    if input_roots is None:
        given = os.environ.get("PESTO_INPUT_ROOTS", "")
        input_roots = [Path(part) for part in re.split(r"[:,]", given) if part.strip()]
    name = Path(project).resolve().name
    with tempfile.TemporaryDirectory(prefix="pesto-local-") as run_dir, \
            LocalServices(Path(run_dir), input_roots=input_roots, all_services=[name],
                          start_timeout=timeout) as services:
        services.start(name, Path(project), profiles=profiles)
        yield services.wait_ready()[name]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def profiles_for(name: str, spec_profiles: Sequence[str],
                 overrides: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The profiles of a service: the command line's when given, else the spec's."""
    return tuple(overrides[name]) if name in overrides else tuple(spec_profiles)
