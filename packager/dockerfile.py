"""The Dockerfile of a service image, in cache-friendly layers.

Layers go from what changes least to what changes most: the PESTO runtime, the pip
requirements and resources, the algorithm and its pesto/ files, the packaging info. A cache
level keeps the engine's layer cache up to one of them and rebuilds everything after:

    none (default)  a clean build, no cache at all
    C1              keep the runtime's own install
    C2              ... and the pip requirements and resources
    C3              ... and the algorithm files (only the packaging info is rebuilt)

The cut is a build argument given a new value on every build, used by the first RUN after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CacheLevel", "DockerfileSpec", "Resource", "render_dockerfile", "SERVICE_DIR", "UID"]

SERVICE_DIR = "/opt/pesto/service"
UID = 10001
_WHEELS = "/opt/pesto/wheels"


class CacheLevel(StrEnum):
    none = "none"
    C1 = "C1"
    C2 = "C2"
    C3 = "C3"

    @property
    def layers_kept(self) -> int:
        """How many of the build's layer groups come from the cache."""
        return {"none": 0, "C1": 1, "C2": 2, "C3": 3}[self.value]


@dataclass(frozen=True)
class Resource:
    """A file or folder copied into the image: `resources/<name>/` of the context -> `target`."""

    name: str
    target: str
    python: bool = False


@dataclass(frozen=True)
class DockerfileSpec:
    image: str
    base_image: str
    runtime_wheel: str  # file name of the runtime wheel in the context
    runtime_version: str
    pip: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    environments: tuple[tuple[str, str], ...] = ()
    profiles: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    wheelhouse: bool = False
    constraints: bool = False  # a constraints.txt for the runtime's dependencies is in the context
    cache: CacheLevel = CacheLevel.none


@dataclass(frozen=True)
class _Layer:
    comment: str
    text: str
    cut: bool = False


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _runtime_layer(spec: DockerfileSpec) -> _Layer:
    constraints = f" -c {_WHEELS}/constraints.txt" if spec.constraints else ""
    copy = "COPY constraints.txt " + f"{_WHEELS}/\n" if spec.constraints else ""
    if spec.wheelhouse:
        text = (f"{copy}COPY wheels/runtime {_WHEELS}/runtime\n"
                f"RUN pip install --no-cache-dir --no-index --find-links {_WHEELS}/runtime"
                f"{constraints} {_WHEELS}/runtime/{spec.runtime_wheel}")
    else:
        text = (f"{copy}COPY wheels/runtime/{spec.runtime_wheel} {_WHEELS}/runtime/\n"
                f"RUN pip install --no-cache-dir{constraints} {_WHEELS}/runtime/{spec.runtime_wheel}")
    return _Layer("The PESTO runtime (pesto-runtime) and its dependencies.", text)


def _requirements_layer(spec: DockerfileSpec) -> _Layer | None:
    lines = []
    if spec.pip:
        specs = " ".join(_quote(item) for item in spec.pip)
        if spec.wheelhouse:
            lines.append(f"COPY wheels/requirements {_WHEELS}/requirements")
            lines.append(f"RUN pip install --no-cache-dir --no-index --find-links {_WHEELS}/runtime"
                         f" --find-links {_WHEELS}/requirements {specs}")
        else:
            lines.append(f"RUN pip install --no-cache-dir {specs}")
    for resource in spec.resources:
        lines.append(f"COPY resources/{resource.name}/ {resource.target}/")
    if not lines:
        return None
    return _Layer("pip requirements and resources of requirements.json.", "\n".join(lines))


def _layers(spec: DockerfileSpec) -> list[_Layer]:
    groups: list[_Layer | None] = [
        _runtime_layer(spec),
        _requirements_layer(spec),
        _Layer("The algorithm and its pesto/ files (active profiles only).",
               f"COPY service {SERVICE_DIR}"),
        _Layer("Packaging info (GET /api/v1/version).",
               f"COPY version.json {SERVICE_DIR}/pesto/api/version.json"),
    ]
    layers: list[_Layer] = []
    cut_pending = spec.cache is not CacheLevel.none
    for index, layer in enumerate(groups):
        if layer is None:
            continue
        # The cut goes before the first group not kept (an absent group moves it down).
        cut = cut_pending and index >= spec.cache.layers_kept
        cut_pending = cut_pending and not cut
        layers.append(_Layer(layer.comment, layer.text, cut=cut))
    return layers


def render_dockerfile(spec: DockerfileSpec) -> str:
    """The Dockerfile text for `spec` (templates/Dockerfile.j2)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pesto_factory.packager", "templates"), keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False, undefined=jinja2.StrictUndefined)
    variables = [
        ("PESTO_SERVICE_DIR", SERVICE_DIR), ("PESTO_PROFILES", ",".join(spec.profiles)),
        ("PESTO_STATE_DIR", "/var/lib/pesto/state"), ("PESTO_HOST", "0.0.0.0"),
        ("PESTO_PORT", "8080"), *spec.environments]
    pythonpath = ":".join(r.target for r in spec.resources if r.python)
    if pythonpath:
        variables.append(("PYTHONPATH", pythonpath))
    return env.get_template("Dockerfile.j2").render(
        image=spec.image, base_image=spec.base_image, runtime_version=spec.runtime_version,
        uid=UID, layers=_layers(spec), cache_level=spec.cache.value,
        env=[f"{key}={_quote(value)}" for key, value in variables],
        labels=[f"{key}={_quote(value)}" for key, value in spec.labels])
