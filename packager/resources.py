"""Resources of requirements.json copied into the image: models, data, extra Python code.

    "requirements": {"model": {"from": "s3://bucket/model.onnx", "to": "/opt/model",
                               "type": "file"}}

`from` is file:// (absolute, or relative to the project), http(s):// or s3:// (needs boto3);
`to` is the folder in the image the file (or the folder's content) goes into, /opt/<name> by
default; `type: python` also puts `to` on the image's PYTHONPATH.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from pesto_factory.packager.dockerfile import Resource
from pesto_factory.packager.wheels import BuildError
from pesto_factory.runtime.project import ServiceProject

__all__ = ["fetch_resources"]


def _fetch_file(root: Path, url: str, dest: Path) -> None:
    parsed = urlparse(url)
    raw = unquote(parsed.netloc + parsed.path)
    source = Path(raw) if raw.startswith("/") else root / raw
    if not source.exists():
        raise BuildError(f"resource {url}: no such file or folder {source}")
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)
    else:
        shutil.copy2(source, dest / source.name)


def _fetch_http(url: str, dest: Path) -> None:
    import httpx

    name = PurePosixPath(urlparse(url).path).name or "download"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            response.raise_for_status()
            with open(dest / name, "wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
    except httpx.HTTPError as exc:
        raise BuildError(f"resource {url}: download failed: {exc}") from exc


def _fetch_s3(url: str, dest: Path) -> None:
    try:
        import boto3
    except ImportError as exc:
        raise BuildError(f"resource {url}: s3:// needs boto3", hint="pip install boto3") from exc
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    try:
        boto3.client("s3").download_file(parsed.netloc, key, str(dest / PurePosixPath(key).name))
    except Exception as exc:  # botocore's errors have no common importable root here
        raise BuildError(f"resource {url}: download failed: {exc}") from exc


def fetch_resources(project: ServiceProject, dest: Path) -> tuple[Resource, ...]:
    """Copy every resource into `dest/<name>/`; what the Dockerfile then copies into the image."""
    resources = []
    for name, spec in sorted(project.requirements.get("requirements", {}).items()):
        folder = dest / name
        folder.mkdir(parents=True)
        url = spec["from"]
        scheme = urlparse(url).scheme
        if scheme == "file":
            _fetch_file(project.root, url, folder)
        elif scheme in ("http", "https"):
            _fetch_http(url, folder)
        elif scheme == "s3":
            _fetch_s3(url, folder)
        else:  # the schema allows no other scheme; kept for a clear message all the same
            raise BuildError(f"resource {name}: unsupported source {url}")
        target = spec.get("to") or f"/opt/{name}"
        resources.append(Resource(name=name, target=target.rstrip("/") or "/",
                                  python=spec.get("type") == "python"))
    return tuple(resources)
