"""`pesto-runtime serve SERVICE_DIR`: serve a service project over HTTP with uvicorn.

(`pesto-runtime describe SERVICE_DIR` prints the project's describe document.)

The service's own settings come from PESTO_* environment variables; the options here override
the ones an operator changes most (profiles, host, port).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pesto-runtime", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a service project")
    serve.add_argument("service_dir", help="service project folder (env PESTO_SERVICE_DIR)")
    serve.add_argument("--host", default=os.environ.get("PESTO_HOST", "127.0.0.1"),
                       help="address to bind (env PESTO_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PESTO_PORT", "8080")),
                       help="port (env PESTO_PORT; default 8080)")
    serve.add_argument("-p", "--profile", action="append", default=None,
                       help="active profile, repeatable (env PESTO_PROFILES, comma separated)")
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    describe = commands.add_parser(
        "describe", help="print a service project's describe document (JSON) and exit")
    describe.add_argument("service_dir", help="service project folder")
    describe.add_argument("-p", "--profile", action="append", default=None,
                          help="active profile, repeatable")
    return parser


def _describe(service_dir: str, profiles: list[str] | None) -> int:
    """The describe document on stdout: how tools without the runtime imported (the pipeline
    adapters) describe a project folder."""
    import json
    from pathlib import Path

    from pesto_factory.runtime.errors import PestoError
    from pesto_factory.runtime.project import ServiceProject

    try:
        document = ServiceProject.load(Path(service_dir), tuple(profiles or ())).describe()
    except PestoError as exc:
        print(f"pesto-runtime: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(document))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "describe":
        return _describe(args.service_dir, args.profile)
    os.environ["PESTO_SERVICE_DIR"] = args.service_dir
    if args.profile:
        os.environ["PESTO_PROFILES"] = ",".join(args.profile)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import uvicorn
    from pesto_factory.runtime.api.app import create_app
    from pesto_factory.runtime.errors import PestoError
    from pesto_factory.runtime.settings import get_settings

    try:
        app = create_app(get_settings())
    except PestoError as exc:
        print(f"pesto-runtime: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - settings errors and the like: one line, no trace
        if os.environ.get("PESTO_DEBUG"):
            raise
        print(f"pesto-runtime: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
