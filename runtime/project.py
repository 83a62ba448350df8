"""A service project: the algorithm folder and the `pesto/` JSON files that describe it.

    algorithm/process.py        class Process (on_start once per worker, process per job)
    pesto/api/                  description, input_schema, output_schema, config_schema, config,
                                user_definitions (+ optional `name.PROFILE.json` overlays)
    pesto/build/                build.json (image name, version), requirements.json

`ServiceProject.load` merges the active profiles, validates every file against its schema in
schemas/, and builds the describe document: the one source of truth everything else reads.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pesto_factory import schemas
from pesto_factory.runtime.configfiles import known_profiles, read_with_profiles, validate_against
from pesto_factory.runtime.errors import ProjectError

__all__ = ["ServiceProject", "bundle_definitions", "image_kind", "DEFAULT_RESOURCES"]

DEFAULT_RESOURCES = {"cpu": 1, "ram": 2 * 1024**3, "gpu": 0}

# (file stem, schema name, required)
_API_FILES = (
    ("description", "project-description", True),
    ("input_schema", "project-json-schema", True),
    ("output_schema", "project-json-schema", True),
    ("config_schema", "project-json-schema", False),
    ("config", "project-config", False),
    ("user_definitions", "project-user-definitions", False),
    ("version", "project-version", False),
)
_BUILD_FILES = (
    ("build", "project-build", True),
    ("requirements", "project-requirements", False),
)


@dataclass(frozen=True)
class ServiceProject:
    """A loaded, validated project with its profiles merged."""

    root: Path
    profiles: tuple[str, ...]
    files: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, root: Path | str, profiles: tuple[str, ...] | list[str] = ()) -> ServiceProject:
        root = Path(root).resolve()
        if not (root / "pesto").is_dir():
            raise ProjectError(
                "not a service project: no pesto/ folder",
                path=str(root), hint="create one with `packager init`")
        api_dir, build_dir = root / "pesto" / "api", root / "pesto" / "build"
        unknown = [p for p in profiles if p not in known_profiles(api_dir, build_dir)]
        if unknown:
            raise ProjectError(
                f"unknown profile {unknown[0]!r}: no pesto/api or pesto/build file "
                f"named *.{unknown[0]}.json", path=str(root))
        files: dict[str, Any] = {}
        for folder, specs in ((api_dir, _API_FILES), (build_dir, _BUILD_FILES)):
            for stem, schema_name, required in specs:
                path = folder / f"{stem}.json"
                value = read_with_profiles(path, profiles, required=required)
                if value is not None:
                    validate_against(value, schema_name, path=path)
                files[stem] = value
        project = cls(root=root, profiles=tuple(profiles), files=files)
        project._check_config()
        return project

    def _check_config(self) -> None:
        if self.config_schema and self.config is not None:
            import jsonschema

            errors = list(jsonschema.Draft7Validator(self.config_schema).iter_errors(self.config))
            if errors:
                error = jsonschema.exceptions.best_match(errors)
                pointer = "".join(f"/{p}" for p in error.absolute_path)
                raise ProjectError(
                    f"breaks config_schema.json: {error.message}",
                    path=str(self.root / "pesto/api/config.json"), pointer=pointer)

    # --- the files, merged --------------------------------------------------------------
    @property
    def description(self) -> dict[str, Any]:
        return self.files["description"]

    @property
    def build(self) -> dict[str, Any]:
        return self.files["build"]

    @property
    def requirements(self) -> dict[str, Any]:
        return self.files["requirements"] or {}

    @property
    def config(self) -> dict[str, Any]:
        return self.files["config"] or {}

    @property
    def config_schema(self) -> dict[str, Any]:
        return self.files["config_schema"] or {}

    @property
    def user_definitions(self) -> dict[str, Any]:
        return self.files["user_definitions"] or {}

    @property
    def name(self) -> str:
        return self.description.get("name") or self.build["name"]

    @property
    def version(self) -> str:
        return self.build["version"]

    @property
    def image_tag(self) -> str:
        """`version[-profile...]`, so each profile combination gets its own image."""
        return "-".join((self.version, *self.profiles))

    @property
    def algorithm_dir(self) -> Path:
        return self.root / self.build.get("algorithm", "algorithm")

    # Bundled once per project: the service reads them on every request.
    @cached_property
    def input_schema(self) -> dict[str, Any]:
        return bundle_definitions(self.files["input_schema"], self.user_definitions)

    @cached_property
    def output_schema(self) -> dict[str, Any]:
        return bundle_definitions(self.files["output_schema"], self.user_definitions)

    def describe(self) -> dict[str, Any]:
        """The describe document without `_links` (added by the web layer per request)."""
        info = self.description
        document: dict[str, Any] = {
            "name": self.name,
            "title": info["title"],
            "family": info["family"],
            "version": self.version,
            "description": info["description"],
            "organization": info["organization"],
            "email": info["email"],
            "keywords": info.get("keywords", []),
            "resources": {**DEFAULT_RESOURCES, **info.get("resources", {})},
            "input": self.input_schema,
            "output": {
                "description": self.files["output_schema"].get("description", "Process output"),
                "content": {"application/json": {"schema": self.output_schema}},
            },
            "config": bundle_definitions(self.config_schema, self.user_definitions),
            # Any request may run asynchronously (Prefer: respond-async or POST /jobs).
            "asynchronous": True,
            "profiles": list(self.profiles),
        }
        if "template" in info:
            document["template"] = info["template"]
        return document


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref.removeprefix("#/definitions/"))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def bundle_definitions(schema: dict[str, Any], user_definitions: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` carrying every `#/definitions/X` it uses, so it stands alone.

    User definitions win over the shared data types of schemas/definitions.json.
    """
    result = copy.deepcopy(schema)
    available = {**schemas.load_schema("definitions")["definitions"], **user_definitions}
    bundled: dict[str, Any] = dict(result.get("definitions", {}))
    pending = _refs(result) - set(bundled)
    while pending:
        name = pending.pop()
        if name not in available:
            raise ProjectError(f"$ref to unknown definition #/definitions/{name}")
        bundled[name] = copy.deepcopy(available[name])
        pending |= _refs(bundled[name]) - set(bundled)
    if bundled:
        result["definitions"] = bundled
    return result


def image_kind(property_schema: dict[str, Any]) -> str | None:
    """Which shared image type a property is (`Image`, `Images`, `ImageRef`, `ImageRefs`)."""
    ref = property_schema.get("$ref", "")
    name = ref.removeprefix("#/definitions/") if ref.startswith("#/definitions/") else None
    if name in ("Image", "Images", "ImageRef", "ImageRefs"):
        return name
    return None
