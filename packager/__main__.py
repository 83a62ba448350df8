"""`python -m pesto_factory.packager`: the same CLI as the `packager` console script."""

from __future__ import annotations

import sys

from pesto_factory.packager.cli import main

if __name__ == "__main__":
    sys.exit(main())
