"""Names a module re-exports, imported on first use (PEP 562 module ``__getattr__``).

``xenc_toolkit.api`` and the stage packages whose submodules pull in heavy libraries (``retrieval``,
``training``, ``evaluation``) re-export their names this way, so that importing the package, or
the CLI, does not load torch, transformers or sentence-transformers until a name is used::

    __getattr__, __dir__ = lazy_exports(__name__, {"DenseIndex": "dense_index"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    module: str, where: dict[str, str], base: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``module``: name ``n`` is imported from ``{base}.{where[n]}`` (``base``
    defaults to ``module`` itself, for a package's own submodules) when first asked for, then kept in the
    module's namespace so later lookups are plain attribute reads."""
    namespace = sys.modules[module].__dict__
    prefix = base or module
    names = sorted(where)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{prefix}.{where[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
