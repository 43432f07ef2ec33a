"""Name -> class registries for every "one of several kinds": losses, negative samplers, candidate
generators, KB formats, calibrators.

A kind is one module in its registry's package that decorates its class::

    # xenc_toolkit/training/losses/my_loss.py
    from .registry import LOSSES

    @LOSSES.register("my-loss", inputs="lists")
    class MyLoss(nn.Module): ...

Nothing else changes: the registry imports every module of its package the first time it is
asked for a name, config validation reads :meth:`Registry.names`, and the code that needs a kind
calls :meth:`Registry.get`. Adding a kind is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered kind: its name, the class (or factory) and what the registry's users need to know of it."""

    name: str
    target: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """The kinds of one thing (``kind``, e.g. ``"loss"``), each a module of ``package``."""

    def __init__(self, kind: str, package: str, setting: str):
        self.kind = kind
        self.package = package
        self.setting = setting  # the config field that names a kind (for error messages)
        self._entries: dict[str, Entry[T]] = {}
        self._discovered = False

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        def decorate(target: T) -> T:
            if name in self._entries and self._entries[name].target is not target:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, target, meta)
            return target

        return decorate

    def _discover(self) -> None:
        if self._discovered:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")
        self._discovered = True

    def names(self) -> tuple[str, ...]:
        """Registered names, by their ``order`` (registration keyword, default 100), then alphabetically."""
        self._discover()
        return tuple(sorted(self._entries, key=lambda name: (self._entries[name].meta.get("order", 100), name)))

    def entry(self, name: str) -> Entry[T]:
        self._discover()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries))
            raise ConfigError(f"{self.setting}: unknown {self.kind} {name!r} (known: {known})")
        return self._entries[name]

    def get(self, name: str, *default: Any) -> T:
        """The kind registered as ``name``; unknown: ``default`` when given, else a :class:`ConfigError`."""
        if default and name not in self:
            return default[0]
        return self.entry(name).target

    # mapping-style access (``name in REGISTRY``, ``REGISTRY[name]``, ``sorted(REGISTRY)``)
    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        self._discover()
        return self._entries[name].target

    def __setitem__(self, name: str, target: T) -> None:
        self._discover()
        self._entries[name] = Entry(name, target, {})

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def check(self, name: str) -> str:
        """``name`` if it is a registered kind, else a :class:`ConfigError` listing the known ones."""
        self.entry(name)
        return name
