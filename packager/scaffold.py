"""`packager init`: a new service project from a template folder.

A template is a folder laid out like the project it makes: files ending in `.j2` are rendered
with Jinja2 (variables: name, title, family, description, organization, email, version) and lose
the suffix; every other file is copied as is. After rendering, the input/output schemas are
generated from algorithm/input_output.py and pesto/tests/expected_describe.json from the
project's describe document, so a fresh project passes `packager test` unchanged.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from pesto_factory.packager.fileutil import staged_dir, write_json_atomic
from pesto_factory.schemas.errors import ProjectError

__all__ = ["ProjectInfo", "create_project", "BUILTIN_TEMPLATE"]

BUILTIN_TEMPLATE = Path(__file__).resolve().parent / "templates" / "project"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


@dataclass(frozen=True)
class ProjectInfo:
    """What the template asks for; `name` is the image name (lower case, as Docker wants)."""

    name: str
    title: str
    family: str = "processing"
    description: str = "A PESTO processing service."
    organization: str = "My organisation"
    email: str = "me@example.org"
    version: str = "1.0.0"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", self.name):
            raise ProjectError(f"invalid service name {self.name!r}: use lower-case letters, "
                               "digits and . _ - / between them (it names the image)")

    @classmethod
    def defaults_for(cls, target: Path) -> ProjectInfo:
        slug = re.sub(r"[^a-z0-9]+", "-", target.resolve().name.lower()).strip("-") or "service"
        return cls(name=slug, title=slug.replace("-", " ").title())


def _render(template: Path, dest: Path, info: ProjectInfo) -> None:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template)),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             autoescape=False)
    for source in sorted(template.rglob("*")):
        relative = source.relative_to(template)
        if source.is_dir() or any(p in ("__pycache__", ".pytest_cache") for p in relative.parts):
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".j2":
            text = env.get_template(relative.as_posix()).render(**asdict(info))
            target.with_suffix("").write_text(text, encoding="utf-8")
        else:
            shutil.copy2(source, target)


def create_project(target: Path, info: ProjectInfo, *, template: Path | None = None) -> Path:
    """Create the project in `target` (which must not exist or be empty); returns its path."""
    from pesto_factory.packager.schemagen import generate_schemas, write_schemas
    from pesto_factory.runtime.project import ServiceProject

    template = Path(template) if template else BUILTIN_TEMPLATE
    if not template.is_dir():
        raise ProjectError("template folder not found", path=str(template))
    target = Path(target).resolve()
    if target.exists() and any(target.iterdir()):
        raise ProjectError("target folder exists and is not empty", path=str(target))
    with staged_dir(target) as tmp:
        _render(template, tmp, info)
        if (tmp / "algorithm" / "input_output.py").is_file():
            generated = generate_schemas(tmp, name=info.name.rsplit("/", 1)[-1])
            write_schemas(tmp, generated, force=True)
        project = ServiceProject.load(tmp)
        describe = project.describe()
        tests = tmp / "pesto" / "tests"
        if tests.is_dir() and not (tests / "expected_describe.json").exists():
            write_json_atomic(tests / "expected_describe.json", describe)
    return target
