"""Object storage (S3 API, Google Cloud Storage) as the data plane, through GDAL alone.

An *object location* is an `s3://bucket/key` or `gs://bucket/key` URI. Images are read from
there by windows (GDAL's `/vsis3/`, `/vsigs/`: range requests of the blocks needed) and outputs
are put there whole: written to a local file first, then uploaded in one PUT (or a multipart
upload that completes last), so a reader never sees a partial object and a failed write leaves
none. Credentials and the endpoint come from the standard variables GDAL reads (AWS_*,
GOOGLE_APPLICATION_CREDENTIALS, ~/.aws); nothing here ever reads or prints a secret.

Store failures become the runtime's errors, each naming the bucket or the endpoint: an
unreachable store is `StoreUnavailable` (503, retryable), a missing bucket `BucketNotFound`
(422), refused credentials `StoreAccessDenied` (403). GDAL types its read failures
(`CPLE_AWS*`) but not its write failures, so a failed write is explained by probes: can the
endpoint be reached, does the bucket answer a read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import rasterio
from pesto_factory.runtime.errors import (
    Forbidden,
    PestoError,
    ServiceUnavailable,
    UnprocessableInput,
)
from rasterio._err import (
    CPLE_AWSAccessDeniedError,
    CPLE_AWSBucketNotFoundError,
    CPLE_AWSError,
    CPLE_AWSInvalidCredentialsError,
    CPLE_AWSObjectNotFoundError,
    CPLE_AWSSignatureDoesNotMatchError,
    CPLE_BaseError,
    CPLE_HttpResponseError,
)
from rasterio.errors import RasterioError

__all__ = [
    "OBJECT_SCHEMES",
    "BucketNotFound",
    "ObjectLocation",
    "ObjectNotFound",
    "StoreAccessDenied",
    "StoreUnavailable",
    "delete_object",
    "delete_prefix",
    "download",
    "iter_object",
    "endpoint_of",
    "explain_read_failure",
    "from_vsi",
    "is_object_uri",
    "upload",
]

logger = logging.getLogger(__name__)

#: Object URI schemes and GDAL's virtual file system for each.
OBJECT_SCHEMES = {"s3": "/vsis3/", "gs": "/vsigs/"}

# Writes: fail fast on a dead endpoint (the orchestrator retries the job), no folder listing.
_STORE_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_TIMEOUT": 60,
    "GDAL_HTTP_CONNECTTIMEOUT": 10,
    "GDAL_HTTP_MAX_RETRY": 2,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
}
_PROBE_TIMEOUT = 3.0
_UNKNOWN_SIZE = (1 << 64) - 1  # (vsi_l_offset)-1: let GDAL find the source's size
_DENIED = (CPLE_AWSAccessDeniedError, CPLE_AWSInvalidCredentialsError,
           CPLE_AWSSignatureDoesNotMatchError)
_HTTP_STATUS = re.compile(r"HTTP response code(?: on [^:]*)?:\s*(\d{1,3})")


class StoreUnavailable(ServiceUnavailable):
    """The object store could not be reached: retry later (the job is retryable)."""


class StoreAccessDenied(Forbidden):
    """The store refused the service's credentials for a bucket."""


class BucketNotFound(UnprocessableInput):
    """A location names a bucket the store does not have."""


class ObjectNotFound(UnprocessableInput):
    """A location names a key its bucket does not have."""


@dataclass(frozen=True)
class ObjectLocation:
    """`scheme://bucket/key`, checked when built; an empty key is the bucket's root (a prefix)."""

    scheme: str
    bucket: str
    key: str

    def __post_init__(self) -> None:
        if self.scheme not in OBJECT_SCHEMES or not self.bucket:
            raise ValueError(f"not an object location: {self.scheme}://{self.bucket}/{self.key}")

    @classmethod
    def parse(cls, uri: str) -> ObjectLocation:
        parts = urlsplit(uri.strip())
        return cls(parts.scheme.lower(), parts.netloc, parts.path.lstrip("/"))

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.key}"

    @property
    def vsi(self) -> str:
        return f"{OBJECT_SCHEMES[self.scheme]}{self.bucket}/{self.key}"

    def child(self, *names: str) -> ObjectLocation:
        key = "/".join(p for p in (self.key.strip("/"), *(n.strip("/") for n in names)) if p)
        return ObjectLocation(self.scheme, self.bucket, key)


def from_vsi(path: str) -> ObjectLocation | None:
    """The object location a GDAL path `/vsis3/bucket/key` names (None for other paths)."""
    for scheme, prefix in OBJECT_SCHEMES.items():
        if path.startswith(prefix):
            bucket, _, key = path[len(prefix):].partition("/")
            return ObjectLocation(scheme, bucket, key)
    return None


def is_object_uri(value: str) -> bool:
    """True for `s3://...` and `gs://...`."""
    return urlsplit(value.strip()).scheme.lower() in OBJECT_SCHEMES and "://" in value


def endpoint_of(scheme: str = "s3") -> str:
    """host:port of the store the service talks to (for messages; never a credential)."""
    if scheme == "gs":
        return "storage.googleapis.com:443"
    https = os.environ.get("AWS_HTTPS", "YES").upper() not in ("NO", "FALSE", "OFF", "0")
    endpoint = os.environ.get("AWS_S3_ENDPOINT", "").strip()
    if not endpoint:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = f"s3.{region}.amazonaws.com"
    endpoint = re.sub(r"^https?://", "", endpoint).rstrip("/")
    return endpoint if ":" in endpoint else f"{endpoint}:{443 if https else 80}"


def upload(local: Path, target: ObjectLocation) -> None:
    """Put a finished local file at `target`: the object exists whole, or not at all."""
    if not _copy(str(local), target.vsi):
        raise _explain_write_failure(target)
    logger.debug("uploaded %s (%d bytes)", target.uri, local.stat().st_size)


def download(source: ObjectLocation, local: Path) -> Path:
    """Copy an object to a local file; a store failure is explained."""
    local.parent.mkdir(parents=True, exist_ok=True)
    if not _copy(source.vsi, str(local)):
        local.unlink(missing_ok=True)
        raise explain_read_failure(source, _read_probe(source))
    return local


def _copy(source: str, target: str) -> bool:
    """GDAL's VSICopyFile, whose return code (unlike a rasterio copy's) says if it worked."""
    with rasterio.Env(**_STORE_OPTIONS):
        return _gdal().VSICopyFile(source.encode(), target.encode(), None,
                                   ctypes.c_uint64(_UNKNOWN_SIZE), None, None, None) == 0


def delete_object(target: ObjectLocation) -> bool:
    """Delete an object written by this service; False when it could not be (already gone,
    store down): cleanup never fails a request, it is logged."""
    with rasterio.Env(**_STORE_OPTIONS):
        done = _gdal().VSIUnlink(target.vsi.encode()) == 0
    if not done:
        logger.warning("could not delete %s", target.uri)
    return done


def delete_prefix(prefix: ObjectLocation) -> bool:
    """Delete every object under `prefix/` (a job's outputs): GDAL lists and batch-deletes."""
    with rasterio.Env(**_STORE_OPTIONS):
        gdal = _gdal()
        listing = gdal.VSIReadDir(prefix.vsi.encode())
        if not listing:
            return True  # nothing there (or no such prefix): nothing to delete
        gdal.CSLDestroy(listing)
        done = gdal.VSIRmdirRecursive(prefix.vsi.encode()) == 0
    if not done:
        logger.warning("could not delete the objects under %s/", prefix.uri)
    return done


def iter_object(source: ObjectLocation, *, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of an object, a chunk at a time (to stream a result without a local copy).

    Opening happens on the first `next()`: a missing object raises before any byte is sent.
    """
    gdal = _gdal()
    with rasterio.Env(**_STORE_OPTIONS):
        handle = gdal.VSIFOpenExL(source.vsi.encode(), b"rb", 1)
    if not handle:
        raise explain_read_failure(source, RasterioError(f"{source.uri} does not exist"))
    buffer = ctypes.create_string_buffer(chunk)
    try:
        while True:
            with rasterio.Env(**_STORE_OPTIONS):
                count = gdal.VSIFReadL(buffer, 1, chunk, handle)
            if count <= 0:
                return
            yield buffer.raw[:count]
    finally:
        gdal.VSIFCloseL(handle)


def explain_read_failure(location: ObjectLocation, exc: BaseException) -> PestoError:
    """The runtime's error for a failed read of `location`, naming the key, bucket or endpoint."""
    cause = _gdal_cause(exc)
    bucket = f"bucket {location.bucket!r}"
    if isinstance(cause, CPLE_AWSBucketNotFoundError):
        return _bucket_missing(location)
    if isinstance(cause, _DENIED):
        return StoreAccessDenied(
            f"the object store refused access to {bucket} ({location.uri}): {cause}",
            hint="the service's credentials (AWS_ACCESS_KEY_ID or profile) need read access")
    if isinstance(cause, CPLE_AWSObjectNotFoundError):
        return _object_missing(location)
    if not _reachable(location.scheme):
        return _unreachable(location)
    status = _http_status(cause)
    if status == 403:
        return StoreAccessDenied(
            f"the object store refused access to {location.uri} in {bucket} (HTTP 403)",
            hint="the service's credentials (AWS_ACCESS_KEY_ID or profile) need read access")
    if status == 404 or not _exists(location):
        return _object_missing(location)
    if isinstance(cause, CPLE_AWSError) and "bucket" in str(cause).lower():
        return _bucket_missing(location)
    return UnprocessableInput(f"cannot read {location.uri}: {_short(cause or exc)}")


def _explain_write_failure(target: ObjectLocation) -> PestoError:
    """GDAL says only that the PUT failed: find out why with a reachability and a read probe."""
    if not _reachable(target.scheme):
        return _unreachable(target)
    cause = _gdal_cause(_read_probe(target.child("..pesto-probe")))
    if isinstance(cause, CPLE_AWSBucketNotFoundError) or (
            isinstance(cause, CPLE_AWSError) and "bucket" in str(cause).lower()):
        return _bucket_missing(target)
    return StoreAccessDenied(
        f"the object store refused to write {target.uri}: the service's credentials may not "
        f"write to bucket {target.bucket!r}",
        hint="give the service's identity write access to the bucket (s3:PutObject)")


def _read_probe(location: ObjectLocation) -> BaseException:
    """The typed error GDAL gives when opening `location` (GDAL types read failures only)."""
    try:
        with rasterio.Env(**_STORE_OPTIONS), rasterio.open(location.vsi):
            pass
    except (RasterioError, CPLE_BaseError) as exc:
        return exc
    return RasterioError(f"{location.uri} could not be copied")


def _bucket_missing(location: ObjectLocation) -> PestoError:
    return BucketNotFound(
        f"bucket {location.bucket!r} does not exist on the object store at "
        f"{endpoint_of(location.scheme)} ({location.uri})",
        hint="create the bucket, or check the bucket name and AWS_S3_ENDPOINT")


def _object_missing(location: ObjectLocation) -> PestoError:
    return ObjectNotFound(
        f"object {location.key!r} does not exist in bucket {location.bucket!r} ({location.uri})")


def _unreachable(location: ObjectLocation) -> PestoError:
    return StoreUnavailable(
        f"the object store at {endpoint_of(location.scheme)} cannot be reached (for "
        f"{location.uri}); retry later",
        hint="check AWS_S3_ENDPOINT, AWS_HTTPS and the network between service and store")


def _exists(location: ObjectLocation) -> bool:
    """Whether the store lists the object (GDAL's stat: a HEAD request)."""
    stat = ctypes.create_string_buffer(512)  # larger than any platform's VSIStatBufL
    with rasterio.Env(**_STORE_OPTIONS):
        return _gdal().VSIStatL(location.vsi.encode(), stat) == 0


def _reachable(scheme: str) -> bool:
    """Whether a TCP connection to the store's endpoint opens (a cheap, typed probe)."""
    host, _, port = endpoint_of(scheme).rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=_PROBE_TIMEOUT):
            return True
    except (OSError, ValueError):
        return False


def _gdal_cause(exc: BaseException | None) -> CPLE_BaseError | None:
    """The GDAL error under a rasterio one (chained as cause or context, maybe twice)."""
    for _ in range(6):
        if exc is None or isinstance(exc, CPLE_BaseError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _http_status(cause: CPLE_BaseError | None) -> int | None:
    """GDAL reports an untyped HTTP failure only as text: the status it names, if any."""
    if not isinstance(cause, CPLE_HttpResponseError):
        return None
    match = _HTTP_STATUS.search(str(cause))
    return int(match.group(1)) if match else None


@lru_cache(maxsize=1)
def _gdal() -> ctypes.CDLL:
    """The GDAL library rasterio loaded, for the few VSI calls rasterio does not wrap
    (unlink, recursive delete, streamed reads). The same library, hence the same
    configuration (rasterio.Env options are GDAL thread-local settings)."""
    import rasterio._base  # noqa: F401 - loads libgdal

    path = None
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            path = next((line.split()[-1] for line in maps if "libgdal" in line.rsplit("/", 1)[-1]),
                        None)
    except OSError:
        pass
    gdal = ctypes.CDLL(path or ctypes.util.find_library("gdal") or "libgdal.so")
    gdal.VSIUnlink.argtypes = [ctypes.c_char_p]
    gdal.VSIRmdirRecursive.argtypes = [ctypes.c_char_p]
    gdal.VSIReadDir.argtypes = [ctypes.c_char_p]
    gdal.VSIReadDir.restype = ctypes.c_void_p
    gdal.VSIFOpenExL.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    gdal.VSIFOpenExL.restype = ctypes.c_void_p
    gdal.VSIFReadL.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
    gdal.VSIFReadL.restype = ctypes.c_size_t
    gdal.VSIFCloseL.argtypes = [ctypes.c_void_p]
    gdal.VSIStatL.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    gdal.CSLDestroy.argtypes = [ctypes.c_void_p]
    gdal.VSICopyFile.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                                 ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_void_p]
    return gdal


def _short(exc: BaseException) -> str:
    text = re.sub(r"/vsi(s3|gs)/", "", str(exc)).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."
