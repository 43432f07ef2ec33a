"""The UMLS Semantic Network: semantic types (TUIs), their names, tree and groups.

Bundled in the package (``xenc_toolkit/resources``): the semantic type tree and
McCray's 15 semantic groups (``SemGroups.txt``). Loaded once and cached.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import InputFormatError


@dataclass(frozen=True)
class SemanticNetwork:
    """TUI -> name, TUI -> group code, group code -> group name, TUI -> parent TUI."""

    type_names: dict[str, str]
    type_groups: dict[str, str]
    group_names: dict[str, str]
    parents: dict[str, str | None] = field(default_factory=dict)

    def type_name(self, tui: str) -> str:
        return self.type_names.get(tui, tui)

    def group(self, tui: str) -> str | None:
        return self.type_groups.get(tui)

    def groups_of(self, tuis) -> tuple[str, ...]:
        """Distinct semantic groups of a collection of TUIs, in first-seen order."""
        seen: dict[str, None] = {}
        for tui in tuis:
            group = self.type_groups.get(tui)
            if group:
                seen[group] = None
        return tuple(seen)

    def is_known_type(self, tui: str) -> bool:
        return tui in self.type_names

    def ancestors(self, tui: str) -> list[str]:
        out = []
        current = self.parents.get(tui)
        while current:
            out.append(current)
            current = self.parents.get(current)
        return out


def _resource_path(name: str) -> Path:
    return Path(str(resources.files("xenc_toolkit.resources").joinpath(name)))


def parse_semantic_groups(path: str | Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Parse ``GROUP|Group name|TUI|Type name`` lines."""
    type_groups: dict[str, str] = {}
    group_names: dict[str, str] = {}
    type_names: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("|")
            if len(parts) != 4 or not parts[2].startswith("T"):
                raise InputFormatError(
                    path, number, f"bad semantic group line {line!r}", "GROUP|Group name|TUI|Type name"
                )
            group, group_name, tui, type_name = parts
            type_groups[tui] = group
            group_names[group] = group_name
            type_names[tui] = type_name
    return type_groups, group_names, type_names


def parse_semantic_type_tree(path: str | Path) -> tuple[dict[str, str], dict[str, str | None]]:
    """Parse the indented ``name<TAB>TUI<TAB>depth`` tree; returns (names, parents)."""
    names: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 3:
                raise InputFormatError(path, number, "bad semantic type line", "name<TAB>TUI<TAB>depth")
            name, tui, depth_text = parts
            try:
                depth = int(depth_text)
            except ValueError as exc:
                raise InputFormatError(path, number, f"depth {depth_text!r} is not an integer") from exc
            if not tui.startswith("T"):
                continue  # the 'UnknownType' root
            names[tui] = name.strip()
            while stack and stack[-1][0] >= depth:
                stack.pop()
            parents[tui] = stack[-1][1] if stack else None
            stack.append((depth, tui))
    return names, parents


@functools.lru_cache(maxsize=1)
def load_semantic_network() -> SemanticNetwork:
    """The bundled semantic network."""
    type_groups, group_names, group_type_names = parse_semantic_groups(_resource_path("SemGroups.txt"))
    tree_names, parents = parse_semantic_type_tree(_resource_path("semantic_type_tree.tsv"))
    type_names = {**group_type_names, **tree_names}
    return SemanticNetwork(type_names=type_names, type_groups=type_groups, group_names=group_names, parents=parents)
