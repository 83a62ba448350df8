"""Arrays in shared memory: how worker processes see the same pixels without copies.

A *segment* is a named block of POSIX shared memory (a file in /dev/shm on Linux). The engine
puts input and output images in segments; a worker maps a segment by name and reads or writes
its tile's window in place, so only small tile descriptors travel between processes.

The parent creates segments with `multiprocessing.shared_memory`, which also registers them
with Python's resource tracker: if the parent is killed, the tracker removes them. Every array
the parent hands out owns its own mapping, and the segment is removed (unlinked) when the last
view of that array is garbage collected, or explicitly by `release`. Workers map segments by
path and never unlink them.

Shared memory is RAM: a container started with a small /dev/shm (Docker's default is 64 MB)
cannot hold a large scene. `shm_available` tells how much room there is so the engine can fall
back to one process instead of failing with SIGBUS.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
import weakref
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["SharedArraySpec", "shared_empty", "share", "shared_spec", "release",
           "shm_available", "SHM_DIR"]

logger = logging.getLogger(__name__)

#: Where Linux keeps POSIX shared memory; multi-process runs need it.
SHM_DIR = "/dev/shm"

_lock = threading.Lock()
# data address -> (spec, weak reference to the owning array): lets a shared array be passed to
# workers again (chained filters) without a copy.
_owned: dict[int, tuple[SharedArraySpec, weakref.ref]] = {}


@dataclass(frozen=True)
class SharedArraySpec:
    """What a worker needs to map a shared array: segment name, shape and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def map(self) -> np.ndarray:
        """Map the segment as an array; the mapping lives as long as the array (or its views)."""
        with open(os.path.join(SHM_DIR, self.name), "r+b") as handle:
            mapping = mmap.mmap(handle.fileno(), self.nbytes)
        return np.frombuffer(mapping, dtype=self.dtype).reshape(self.shape)


def shm_available() -> int:
    """Free bytes in the shared memory file system (0 where there is none)."""
    try:
        stats = os.statvfs(SHM_DIR)
    except OSError:
        return 0
    return stats.f_bavail * stats.f_frsize


def _unlink(name: str) -> None:
    try:
        segment = shared_memory.SharedMemory(name=name)
    except FileNotFoundError:
        return
    segment.close()
    segment.unlink()
    logger.debug("unlinked shared segment %s", name)


def _forget(address: int, name: str) -> None:
    with _lock:
        _owned.pop(address, None)
    _unlink(name)


def shared_empty(shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """A new, zero-filled array in shared memory (e.g. to read a scene into without a copy).

    Passing it (whole) to `run_filter` hands it to workers without copying. Its segment is
    removed when the array and all its views are garbage collected, or by `release`.
    """
    dtype = np.dtype(dtype)
    nbytes = max(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, 1)
    segment = shared_memory.SharedMemory(create=True, size=nbytes)
    spec = SharedArraySpec(segment.name, tuple(int(s) for s in shape), dtype.str)
    segment.close()
    try:
        array = spec.map()
    except BaseException:
        _unlink(spec.name)
        raise
    address = array.__array_interface__["data"][0]
    with _lock:
        _owned[address] = (spec, weakref.ref(array))
    weakref.finalize(array, _forget, address, spec.name)
    return array


def shared_spec(array: np.ndarray) -> SharedArraySpec | None:
    """The segment behind `array` if it is a whole array made by `shared_empty`, else None."""
    address = array.__array_interface__["data"][0]
    with _lock:
        entry = _owned.get(address)
    if entry is None:
        return None
    spec, ref = entry
    owner = ref()
    if (owner is None or array.shape != spec.shape or array.dtype != np.dtype(spec.dtype)
            or not array.flags.c_contiguous):
        return None
    return spec


def share(array: np.ndarray) -> tuple[np.ndarray, SharedArraySpec]:
    """`array` in shared memory: itself when it already is, else a shared copy."""
    spec = shared_spec(array)
    if spec is not None:
        return array, spec
    copy = shared_empty(array.shape, array.dtype)
    copy[...] = array
    spec = shared_spec(copy)
    assert spec is not None
    return copy, spec


def release(array: np.ndarray) -> None:
    """Remove the segment behind a `shared_empty` array now, without waiting for GC.

    The array stays readable in this process (the mapping outlives the name), but no other
    process can map it any more.
    """
    spec = shared_spec(array)
    if spec is not None:
        _forget(array.__array_interface__["data"][0], spec.name)
