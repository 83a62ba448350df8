"""PESTO packager: from an algorithm folder to a tested service image.

The command line (`packager`, also installed as `pesto`) lives in `pesto_factory.packager.cli`; the modules
beside it do the work and are usable from Python: `scaffold` (init), `schemagen`, `workspace`
and `dockerfile` (build), `engine` (the Docker Engine API), `cases` and `compare` (test),
`services` (running a service locally or in a container).
"""

from __future__ import annotations

__all__: list[str] = []
