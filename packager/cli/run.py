"""`packager run`: one process call on a project (local runtime) or an image (container)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pesto_factory.packager.cli._common import Profiles, console, err_console, load_project
from pesto_factory.schemas.errors import ProjectError

NAME = "run"
HELP = ("Run the service once on a payload and print or save the result. TARGET is a project "
        "folder (run in a local runtime, or its built image with --image) or an image name "
        "(run on the engine at DOCKER_HOST). PAYLOAD is a JSON file, an input/ folder of a test "
        "case, or inline JSON.")


def _payload(text: str) -> dict[str, Any]:
    from pesto_factory.packager.cases import read_payload_dir

    path = Path(text)
    if path.is_dir():
        return read_payload_dir(path)
    if path.is_file():
        from pesto_factory.runtime.configfiles import read_json

        value = read_json(path)
    elif text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProjectError(f"inline payload: invalid JSON at column {exc.colno}: "
                               f"{exc.msg}") from None
    else:
        raise ProjectError("payload: no such file or folder, and not inline JSON", path=text)
    if not isinstance(value, dict):
        raise ProjectError("payload must be a JSON object", path=text)
    return value


def command(
    target: Annotated[str, typer.Argument(help="Project folder or image name.")],
    payload: Annotated[str, typer.Argument(help="JSON file, input/ folder or inline JSON.")],
    profiles: Profiles = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", show_default=False,
        help="Save the result here, one file per field (images as GeoTIFF).")] = None,
    image: Annotated[bool, typer.Option(
        "--image", help="For a project: run its built image instead of a local runtime.")] = False,
    timeout: Annotated[float, typer.Option(
        envvar="PESTO_TEST_TIMEOUT",
        help="Seconds to wait for start-up and for the result ")] = 300.0,
) -> None:
    from pesto_factory.adapters.client import ServiceClient
    from pesto_factory.adapters.local import local_service
    from pesto_factory.packager.results import summarise, write_result_dir
    from pesto_factory.packager.services import container_service

    inputs = _payload(payload)
    if Path(target).is_dir() or Path(target).is_file():
        loaded = load_project(Path(target), profiles)
        if image:
            running = container_service(f"{loaded.build['name']}:{loaded.image_tag}",
                                        gpu=bool(loaded.requirements.get("gpu")), timeout=timeout)
        else:
            running = local_service(loaded.root, loaded.profiles, timeout=timeout,
                                    input_roots=_input_roots(inputs))
    else:
        running = container_service(target, gpu=_image_wants_gpu(target), timeout=timeout)
    with err_console.status("starting the service"), running as service, \
            ServiceClient(service.url, process_timeout=timeout) as client:
        document = client.describe()
        result = client.process(inputs, inline=True)
    if output is not None:
        write_result_dir(result, document, output)
        err_console.print(f"result written to {output}", highlight=False)
    else:
        console.print_json(json.dumps(summarise(result, document)))


def _input_roots(inputs: dict[str, Any]) -> list[Path]:
    from pesto_factory.packager.inputroots import describe_roots, payload_roots, runtime_roots

    roots = runtime_roots(payload_roots(inputs))
    err_console.print(describe_roots(roots, "PESTO_INPUT_ROOTS and the payload's file:// folders"),
                      highlight=False, soft_wrap=True)
    return roots


def _image_wants_gpu(image: str) -> bool:
    from pesto_factory.packager.engine import connect, engine_errors

    client = connect()
    with engine_errors(f"inspecting {image}"):
        labels = client.images.get(image).labels or {}
    return labels.get("io.pesto.gpu") == "true"
