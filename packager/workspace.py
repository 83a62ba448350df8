"""The build workspace of a service: everything `packager build` writes before the image.

    <workspace>/<name>/<tag>/
        service.json        the describe document (the one source of truth downstream)
        version.json        packaging info: version, runtime version, profiles, date, commit
        config/api/*.json   the pesto/api and pesto/build files with the profiles merged
        config/build/*.json
        context/            the image build context: Dockerfile, wheels/, resources/,
                            service/ (algorithm + pesto/ files of the active profiles)
        image.json          written only once the image is built (what `packager list` reads)

The workspace root is `--workspace`, else PESTO_WORKSPACE, else build.json `workspace`, else
~/.pesto/workspace. A build is prepared under a temporary name and renamed when complete.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pesto_factory import runtime
from pesto_factory.packager.dockerfile import CacheLevel, DockerfileSpec, render_dockerfile
from pesto_factory.packager.fileutil import staged_dir, write_json_atomic
from pesto_factory.packager.resources import fetch_resources
from pesto_factory.packager.wheels import build_runtime_wheel, constraints_file, download_wheels
from pesto_factory.runtime.project import ServiceProject

__all__ = ["BuildOptions", "BuildWorkspace", "BuildRecord", "workspace_root", "prepare_workspace",
           "record_image", "list_builds"]

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE = Path("~/.pesto/workspace")


@dataclass(frozen=True)
class BuildOptions:
    cache: CacheLevel = CacheLevel.none
    wheelhouse: bool = False
    base_image: str | None = None  # overrides requirements.json dockerBaseImage
    workspace: Path | None = None


@dataclass(frozen=True)
class BuildWorkspace:
    path: Path
    image: str  # name:tag
    gpu: bool
    cache: CacheLevel

    @property
    def context(self) -> Path:
        return self.path / "context"


def workspace_root(project: ServiceProject | None = None, explicit: Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get("PESTO_WORKSPACE"):
        return Path(os.environ["PESTO_WORKSPACE"]).expanduser().resolve()
    if project is not None and project.build.get("workspace"):
        return (project.root / project.build["workspace"]).expanduser().resolve()
    return DEFAULT_WORKSPACE.expanduser().resolve()


def _git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def version_info(project: ServiceProject) -> dict[str, Any]:
    info: dict[str, Any] = {
        "version": project.version,
        "runtime": runtime.__version__,
        "profiles": list(project.profiles),
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    commit = _git_commit(project.root)
    if commit:
        info["commit"] = commit
    return info


def _copy_service(project: ServiceProject, dest: Path) -> None:
    """algorithm/ and pesto/{api,build}: base files and the active profiles' overlays only."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(project.algorithm_dir, dest / project.algorithm_dir.relative_to(project.root),
                    ignore=ignore)
    for folder in ("api", "build"):
        source = project.root / "pesto" / folder
        target = dest / "pesto" / folder
        target.mkdir(parents=True)
        for path in sorted(source.glob("*.json")):
            parts = path.name.split(".")
            if len(parts) == 2 or (len(parts) == 3 and parts[1] in project.profiles):
                shutil.copy2(path, target / path.name)
    # version.json is the build's, copied last in its own layer.
    (dest / "pesto" / "api" / "version.json").unlink(missing_ok=True)


def _write_configs(project: ServiceProject, dest: Path) -> None:
    for folder, stems in (("api", ("description", "input_schema", "output_schema",
                                   "config_schema", "config", "user_definitions")),
                          ("build", ("build", "requirements"))):
        for stem in stems:
            value = project.files.get(stem)
            if value is not None:
                write_json_atomic(dest / folder / f"{stem}.json", value)


def _wheels(project: ServiceProject, context: Path, wheelhouse: bool) -> tuple[str, bool]:
    runtime_dir = context / "wheels" / "runtime"
    wheel = build_runtime_wheel(runtime_dir)
    constraints = constraints_file()
    if constraints:
        shutil.copy2(constraints, context / "constraints.txt")
    if wheelhouse:
        log.info("downloading the runtime's wheels into the build context")
        download_wheels([str(wheel)], runtime_dir, constraints=constraints)
        pip = project.requirements.get("pip", [])
        if pip:
            download_wheels(pip, context / "wheels" / "requirements", find_links=[runtime_dir])
    return wheel.name, constraints is not None


def prepare_workspace(project: ServiceProject, options: BuildOptions) -> BuildWorkspace:
    """Write the workspace of `project` (configs, describe, Dockerfile and build context)."""
    image = f"{project.build['name']}:{project.image_tag}"
    final = workspace_root(project, options.workspace) / project.build["name"] / project.image_tag
    with staged_dir(final) as tmp:
        context = tmp / "context"
        _copy_service(project, context / "service")
        _write_configs(project, tmp / "config")
        write_json_atomic(tmp / "service.json", project.describe())
        info = version_info(project)
        write_json_atomic(tmp / "version.json", info)
        shutil.copy2(tmp / "version.json", context / "version.json")
        resources = fetch_resources(project, context / "resources")
        wheel, constraints = _wheels(project, context, options.wheelhouse)
        requirements = project.requirements
        gpu = bool(requirements.get("gpu"))
        spec = DockerfileSpec(
            image=image, base_image=options.base_image or requirements["dockerBaseImage"],
            runtime_wheel=wheel, runtime_version=runtime.__version__,
            pip=tuple(requirements.get("pip", [])), resources=resources,
            environments=tuple(sorted(requirements.get("environments", {}).items())),
            profiles=project.profiles, wheelhouse=options.wheelhouse, constraints=constraints,
            cache=options.cache, labels=_labels(project, info, gpu))
        (context / "Dockerfile").write_text(render_dockerfile(spec), encoding="utf-8")
        _normalise_context(context)
    return BuildWorkspace(path=final, image=image, gpu=gpu, cache=options.cache)


def _normalise_context(context: Path) -> None:
    """World-readable files with one fixed modification time: the image's non-root user must
    read them, and some engines (buildah) key their COPY cache on mtimes, while a cache level
    must depend on the files' content only."""
    stamp = 315532800  # 1980-01-01, as in wheels
    for path in sorted(context.rglob("*"), reverse=True):
        if not path.is_symlink():
            mode = path.stat().st_mode
            executable = path.is_dir() or mode & 0o111
            path.chmod(0o755 if executable else 0o644)
        os.utime(path, (stamp, stamp), follow_symlinks=False)
    os.utime(context, (stamp, stamp))


def _labels(project: ServiceProject, info: dict[str, Any], gpu: bool) -> tuple[tuple[str, str], ...]:
    return (
        ("org.opencontainers.image.title", project.description["title"]),
        ("org.opencontainers.image.version", project.version),
        ("org.opencontainers.image.created", info["built"]),
        ("io.pesto.name", project.name),
        ("io.pesto.profiles", ",".join(project.profiles)),
        ("io.pesto.runtime", runtime.__version__),
        ("io.pesto.gpu", "true" if gpu else "false"),
    )


@dataclass(frozen=True)
class BuildRecord:
    """One build found in the workspace (what `packager list` shows)."""

    path: Path
    image: str
    version: str
    profiles: tuple[str, ...]
    built: str
    image_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "image": self.image, "version": self.version,
                "profiles": list(self.profiles), "built": self.built, "image_id": self.image_id}


def record_image(workspace: BuildWorkspace, image_id: str, seconds: float) -> None:
    """Mark the workspace's image as built (read by `packager list`)."""
    write_json_atomic(workspace.path / "image.json", {
        "image": workspace.image, "id": image_id, "seconds": round(seconds, 1),
        "cache": workspace.cache.value, "gpu": workspace.gpu,
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})


def list_builds(root: Path) -> list[BuildRecord]:
    import json

    records = []
    for version_file in sorted(root.glob("**/version.json")):
        folder = version_file.parent
        if folder.name == "context" or not (folder / "service.json").is_file():
            continue
        try:
            info = json.loads(version_file.read_text(encoding="utf-8"))
            image = json.loads((folder / "image.json").read_text(encoding="utf-8")) \
                if (folder / "image.json").is_file() else {}
        except (OSError, ValueError):
            log.warning("skipping unreadable build %s", folder)
            continue
        name = folder.parent.relative_to(root).as_posix()
        records.append(BuildRecord(
            path=folder, image=f"{name}:{folder.name}", version=str(info.get("version", "?")),
            profiles=tuple(info.get("profiles", [])), built=str(info.get("built", "?")),
            image_id=image.get("id")))
    return records
