"""Which UMLS rows and concepts a load keeps: languages, sources, suppression, term types, semantic filters."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .rrf import TUI_CHECK
from .semantic_types import load_semantic_network


@dataclass(frozen=True)
class UmlsFilters:
    """The row and concept filters of :func:`load_umls` (empty tuple = keep all)."""

    languages: tuple[str, ...] = ("ENG",)
    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    suppress: tuple[str, ...] = ("O", "E", "Y")
    term_types: tuple[str, ...] = ()
    semantic_types: tuple[str, ...] = ()
    semantic_groups: tuple[str, ...] = ()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for filter values that can never match."""
        bad_suppress = [value for value in self.suppress if value not in "NOEY" or len(value) != 1]
        if bad_suppress:
            raise ConfigError(f"kb.suppress: {bad_suppress} are not SUPPRESS values (N, O, E, Y)")
        bad_tuis = [tui for tui in self.semantic_types if not TUI_CHECK.ok(tui)]
        if bad_tuis:
            raise ConfigError(f"kb.semantic_types: {bad_tuis} are not TUIs (T and 3 digits, e.g. T047)")
        known = load_semantic_network().group_names
        bad_groups = [group for group in self.semantic_groups if group not in known]
        if bad_groups:
            raise ConfigError(f"kb.semantic_groups: unknown group(s) {bad_groups} (known: {', '.join(sorted(known))})")

    def allowed_tuis(self) -> set[str]:
        """TUIs kept by the semantic type/group filters (empty = no filter)."""
        network = load_semantic_network()
        groups = set(self.semantic_groups)
        return set(self.semantic_types) | {tui for tui, group in network.type_groups.items() if group in groups}

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in self.__dataclass_fields__}
