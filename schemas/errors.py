"""The error tree of the PESTO factory, free of any web framework: one root for both sides of the wire.

Every failure a caller can meet is a `PestoError` subclass that carries its HTTP status and a
user-facing message (never a traceback). The web layer maps them to geoprocessing Error bodies;
the packager CLI prints their message; the job runner records them as a job's failure reason.
"""

from __future__ import annotations

__all__ = [
    "PestoError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "NotAcceptable",
    "Conflict",
    "PayloadTooLarge",
    "UnprocessableInput",
    "ServiceBusy",
    "ServiceUnavailable",
    "AlgorithmFailed",
    "JobTimedOut",
    "JobCancelled",
    "ProjectError",
]


class PestoError(Exception):
    """Root of every error the project raises on purpose."""

    status_code: int = 500
    #: Whether the same call may succeed later (a retry predicate reads this, never the text).
    retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self):  # keep `hint` across process boundaries (worker -> service)
        return (_rebuild, (type(self), self.message, self.hint, dict(self.__dict__)))


def _rebuild(cls: type[PestoError], message: str, hint: str | None, state: dict) -> PestoError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    error.message, error.hint = message, hint
    return error


class BadRequest(PestoError):
    """The request is malformed or breaks the service's input schema."""

    status_code = 400


class Unauthorized(PestoError):
    status_code = 401


class Forbidden(PestoError):
    """The request names something it may not read (a file outside the input roots)."""

    status_code = 403


class NotFound(PestoError):
    status_code = 404


class NotAcceptable(PestoError):
    """The client asks for a representation the service cannot give (Accept header)."""

    status_code = 406


class Conflict(PestoError):
    """The resource exists but is not in a state that allows the request (result not ready)."""

    status_code = 409


class PayloadTooLarge(PestoError):
    status_code = 413


class UnprocessableInput(PestoError):
    """The request is well-formed but its data cannot be used (a corrupt or unreadable image)."""

    status_code = 422


class ServiceBusy(PestoError):
    """The job queue is full: try again after `retry_after` seconds."""

    status_code = 503
    retryable = True

    def __init__(self, message: str, *, retry_after: int = 5, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ServiceUnavailable(PestoError):
    """The algorithm cannot run at all now (its workers fail to start): not the client's fault."""

    status_code = 503
    retryable = True


class AlgorithmFailed(PestoError):
    """The algorithm raised, or its worker process died."""

    status_code = 500


class JobTimedOut(PestoError):
    status_code = 504
    retryable = True


class JobCancelled(PestoError):
    status_code = 409


class ProjectError(PestoError):
    """A service project file is missing or invalid; names the file and, when known, where."""

    def __init__(
        self, message: str, *, path: str | None = None, pointer: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = path or ""
        if pointer is not None:
            where = f"{where} at {pointer or '/'}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.pointer = pointer
