"""The error tree algorithms and the runtime raise: the one shared root, re-exported.

The classes live in `pesto_factory.schemas.errors` (framework-free, in the base distribution),
so that the REST client and the orchestrator adapters share them without importing the runtime.
Algorithms keep importing them from here.
"""

from __future__ import annotations

from pesto_factory.schemas.errors import *  # noqa: F403
from pesto_factory.schemas.errors import __all__  # noqa: F401
