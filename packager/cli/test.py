"""`packager test`: run the project's test cases against the service, and check its describe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pesto_factory.packager.cli._common import (
    CommandFailed,
    Profiles,
    console,
    err_console,
    load_project,
)

NAME = "test"
HELP = ("Run pesto/tests cases against the service (a local runtime by default, or the built "
        "image with --image on the engine at DOCKER_HOST) and compare the results and the "
        "describe document with what is expected. Exit 1 on any difference.")


def command(
    project: Annotated[Path, typer.Argument(
        help="The project folder, or its pesto/build/build.json.")] = Path("."),
    profiles: Profiles = None,
    image: Annotated[bool, typer.Option(
        "--image", help="Test the built image (started on 127.0.0.1, stopped after).")] = False,
    local: Annotated[bool, typer.Option(
        "--local", help="Test the project's code in a local runtime (the default).")] = False,
    case: Annotated[list[str] | None, typer.Option(
        "--case", help="Only this case (repeatable).", show_default=False)] = None,
    rtol: Annotated[float, typer.Option(help="Relative tolerance for floats and pixels.")] = 1e-5,
    atol: Annotated[float, typer.Option(help="Absolute tolerance for floats and pixels.")] = 1e-6,
    timeout: Annotated[float, typer.Option(
        envvar="PESTO_TEST_TIMEOUT",
        help="Seconds to wait for the service to start and for each case ")] = 120.0,
) -> None:
    from pesto_factory.adapters.local import local_service
    from pesto_factory.packager.cases import expected_describe, load_cases
    from pesto_factory.packager.compare import Tolerance
    from pesto_factory.packager.services import container_service

    if image and local:
        raise typer.BadParameter("give --image or --local, not both")
    loaded = load_project(project, profiles)
    cases = load_cases(loaded.root, only=case)
    expected = expected_describe(loaded.root, loaded.profiles)
    if image:
        tag = f"{loaded.build['name']}:{loaded.image_tag}"
        err_console.print(f"testing image {tag}", highlight=False)
        running = container_service(tag, gpu=bool(loaded.requirements.get("gpu")),
                                    timeout=timeout)
    else:
        err_console.print(f"testing {loaded.root} in a local runtime", highlight=False)
        from pesto_factory.packager.inputroots import describe_roots, payload_roots, runtime_roots

        roots = runtime_roots(payload_roots(*(item.payload for item in cases)))
        err_console.print(describe_roots(roots, "PESTO_INPUT_ROOTS and the cases' file:// folders"),
                          highlight=False, soft_wrap=True)
        running = local_service(loaded.root, loaded.profiles, timeout=timeout, input_roots=roots)
    with err_console.status("starting the service"), running as service:
        pass_ = _run_checks(service.url, cases, expected, Tolerance(rtol=rtol, atol=atol), timeout)
    total = len(cases) + (expected is not None)
    failed = total - pass_
    if failed:
        raise CommandFailed(f"{failed} of {total} check(s) failed")
    console.print(f"[green]all {total} check(s) passed[/]")


def _run_checks(url: str, cases, expected, tolerance, timeout: float) -> int:
    from pesto_factory.adapters.client import ServiceClient, ServiceError
    from pesto_factory.packager.compare import compare_outputs, json_diff

    client = ServiceClient(url, process_timeout=timeout)
    with client:
        return _checks(client, cases, expected, tolerance, compare_outputs, json_diff,
                       ServiceError)


def _checks(client, cases, expected, tolerance, compare_outputs, json_diff, errors) -> int:
    passed = 0
    if expected is not None:
        live = {k: v for k, v in client.describe().items() if k != "_links"}
        passed += _show("describe", json_diff({k: v for k, v in expected.items()
                                               if k != "_links"}, live))
    for item in cases:
        try:
            result = client.process(item.payload, inline=True)
            diff = compare_outputs(item.expected, result, tolerance)
        except errors as exc:
            diff = [exc.message]
        passed += _show(f"case {item.name}", diff)
    return passed


def _show(label: str, diff: list[str]) -> bool:
    if not diff:
        console.print(f"[green]PASS[/] {label}", highlight=False)
        return True
    console.print(f"[bold red]FAIL[/] {label}", highlight=False)
    for line in diff[:50]:
        console.print(f"     {line}", highlight=False, markup=False)
    if len(diff) > 50:
        console.print(f"     ... and {len(diff) - 50} more", highlight=False)
    return False
