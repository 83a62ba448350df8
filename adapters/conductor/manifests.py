"""Where the workers keep the outputs of fan-out batches: manifest objects named by URI.

A batch's worker writes `{"offset": a, "results": [...]}` under
`ROOT/WORKFLOW_ID/STEP__K.json` and answers only its URI, so no Conductor payload grows with the
item count; the worker of a step that reads the fan-out loads the manifests in order. The
store is chosen by the URI scheme of the root (`--manifests`, `PESTO_CONDUCTOR_MANIFESTS`):
`file:///shared/folder` here (every worker must see the same folder); another scheme plugs in
with `register_scheme` (an object store, say). Writing the same key twice replaces the object:
a retried batch rewrites its own manifest.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

__all__ = ["DEFAULT_ROOT_ENV", "FileStore", "ManifestStore", "default_root", "open_store",
           "read_manifest", "register_scheme"]

DEFAULT_ROOT_ENV = "PESTO_CONDUCTOR_MANIFESTS"


class ManifestStore(Protocol):
    """Writes and reads manifest objects (JSON values) by URI."""

    def write(self, key: str, value: Any) -> str: ...

    def read(self, uri: str) -> Any: ...


class FileStore:
    """Manifests as JSON files under a folder (written to a temporary name, then renamed)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def write(self, key: str, value: Any) -> str:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".partial",
                                         delete=False) as handle:
            json.dump(value, handle, separators=(",", ":"))
        os.replace(handle.name, path)
        return path.resolve().as_uri()

    def read(self, uri: str) -> Any:
        return json.loads(Path(unquote(urlparse(uri).path)).read_text())


_SCHEMES: dict[str, Callable[[str], ManifestStore]] = {
    "file": lambda uri: FileStore(unquote(urlparse(uri).path)),
}


def register_scheme(scheme: str, factory: Callable[[str], ManifestStore]) -> None:
    """Make `scheme://...` roots and manifest URIs usable (factory: root URI -> store)."""
    _SCHEMES[scheme] = factory


def default_root() -> str:
    """`PESTO_CONDUCTOR_MANIFESTS`, else a folder in the temp dir (one machine only)."""
    return os.environ.get(DEFAULT_ROOT_ENV) or (
        Path(tempfile.gettempdir()) / "pesto-conductor-manifests").as_uri()


def open_store(root: str) -> ManifestStore:
    """The store of a root URI; ValueError naming the scheme when none is registered."""
    if "://" not in root:
        root = Path(root).resolve().as_uri()
    scheme = urlparse(root).scheme
    if scheme not in _SCHEMES:
        raise ValueError(f"manifest store {root!r}: no store for scheme {scheme!r} "
                         f"(known: {', '.join(sorted(_SCHEMES))})")
    return _SCHEMES[scheme](root)


def read_manifest(uri: str) -> Any:
    """A manifest by URI, from the store of its scheme."""
    return open_store(uri).read(uri)
