"""`python -m packager`: the same CLI as the `packager` console script."""

from __future__ import annotations

import sys

from packager.cli import main

if __name__ == "__main__":
    sys.exit(main())
