"""Decision thresholds on calibrated probabilities: per semantic type, per semantic group, global.

A pair (mention, candidate) is accepted when its calibrated probability is
``>= threshold_for(candidate TUIs)``. A type gets its own threshold only when it has
enough pairs (``min_examples``, and both classes); otherwise its semantic group's
threshold is used, and failing that the global one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import precision_recall_curve

from ..kb.semantic_types import load_semantic_network

__all__ = ["ThresholdTable", "fit_thresholds", "best_threshold"]

OBJECTIVES = ("f1", "precision")


def _tuple(tuis) -> tuple[str, ...]:
    if tuis is None:
        return ()
    if isinstance(tuis, str):
        return (tuis,) if tuis else ()
    return tuple(t for t in tuis if t)


def best_threshold(probs, labels, objective: str = "f1", precision_target: float = 0.95) -> dict:
    """The decision threshold of one set of pairs (predict positive when ``prob >= threshold``).

    ``objective="f1"``: the threshold (one of the probabilities) maximising F1; ties go to
    the lowest such threshold. ``objective="precision"``: the lowest threshold whose
    precision on these pairs is ``>= precision_target`` (i.e. the most recall at that
    precision); when no threshold reaches the target, the F1 threshold is used and
    ``target_reached`` is False. Needs at least one positive and one negative.

    Returns ``{"threshold", "precision", "recall", "f1", "n", "n_positive"}`` plus
    ``"target_reached"`` for the precision objective.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown threshold objective {objective!r} (expected one of {OBJECTIVES})")
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if y.size == 0 or y.min() == y.max():
        raise ValueError("a threshold needs both positive and negative pairs")
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]  # the last point (P=1, R=0) has no threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    out: dict = {}
    if objective == "precision":
        reached = np.flatnonzero(precision >= precision_target)
        out["target_reached"] = bool(reached.size)
        if reached.size:
            best = int(reached[0])  # thresholds are increasing: the first is the lowest
    return {
        "threshold": float(thresholds[best]),
        "precision": float(precision[best]),
        "recall": float(recall[best]),
        "f1": float(f1[best]),
        "n": int(y.size),
        "n_positive": int(y.sum()),
        **out,
    }


@dataclass
class ThresholdTable:
    """Thresholds by semantic type (TUI), by semantic group, and a global one.

    ``types``/``groups`` map a key to the statistics of its own threshold (see
    :func:`best_threshold`); ``fallback_types``/``fallback_groups`` count the pairs of the
    keys that were seen but got no threshold of their own (too few pairs or one class).
    """

    global_stats: dict
    types: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    objective: str = "f1"
    precision_target: float | None = None
    min_examples: int = 50
    fallback_types: dict[str, int] = field(default_factory=dict)
    fallback_groups: dict[str, int] = field(default_factory=dict)

    @property
    def global_threshold(self) -> float:
        return float(self.global_stats["threshold"])

    def _lookup(self, tuis) -> tuple[float, str]:
        tuis = _tuple(tuis)
        for tui in tuis:
            if tui in self.types:
                return float(self.types[tui]["threshold"]), "type"
        network = load_semantic_network()
        for group in network.groups_of(tuis):
            if group in self.groups:
                return float(self.groups[group]["threshold"]), "group"
        return self.global_threshold, "global"

    def threshold_for(self, tuis) -> float:
        """Threshold of the first TUI that has its own, else of its semantic group, else global."""
        return self._lookup(tuis)[0]

    def source_for(self, tuis) -> str:
        """Where :meth:`threshold_for` takes its value from: ``"type"``, ``"group"`` or ``"global"``."""
        return self._lookup(tuis)[1]

    def thresholds_for(self, types: Sequence) -> np.ndarray:
        """Vectorised :meth:`threshold_for` over a sequence of TUI tuples."""
        ids, distinct = _encode(types)
        values = np.array([self.threshold_for(tuis) for tuis in distinct], dtype=np.float64)
        return values[ids] if len(types) else np.empty(0, dtype=np.float64)

    def to_dict(self) -> dict:
        return {
            "objective": self.objective,
            "precision_target": self.precision_target,
            "min_examples": self.min_examples,
            "global": self.global_stats,
            "types": self.types,
            "groups": self.groups,
            "fallback_types": self.fallback_types,
            "fallback_groups": self.fallback_groups,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ThresholdTable:
        return cls(
            global_stats=dict(data["global"]),
            types={k: dict(v) for k, v in data.get("types", {}).items()},
            groups={k: dict(v) for k, v in data.get("groups", {}).items()},
            objective=data.get("objective", "f1"),
            precision_target=data.get("precision_target"),
            min_examples=int(data.get("min_examples", 50)),
            fallback_types={k: int(v) for k, v in data.get("fallback_types", {}).items()},
            fallback_groups={k: int(v) for k, v in data.get("fallback_groups", {}).items()},
        )


def _encode(types: Sequence) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Per pair, the id of its distinct TUI tuple; and the distinct tuples (one pass, no per-pair copies)."""
    ids = np.empty(len(types), dtype=np.int64)
    seen: dict = {}
    for i, tuis in enumerate(types):
        try:
            j = seen.get(tuis)
        except TypeError:  # an unhashable list of TUIs
            tuis = tuple(tuis)
            j = seen.get(tuis)
        if j is None:
            j = seen[tuis] = len(seen)
        ids[i] = j
    return ids, [_tuple(t) for t in seen]


def _index_by_key(ids: np.ndarray, keys_per_id: list[tuple[str, ...]]) -> dict[str, np.ndarray]:
    """key -> indices of the pairs whose tuple contains it."""
    ids_with: dict[str, list[int]] = {}
    for j, keys in enumerate(keys_per_id):
        for key in dict.fromkeys(keys):
            ids_with.setdefault(key, []).append(j)
    return {key: np.flatnonzero(np.isin(ids, js)) for key, js in ids_with.items()}


def fit_thresholds(
    probs,
    labels,
    types: Sequence,
    objective: str = "f1",
    precision_target: float = 0.95,
    min_examples: int = 50,
) -> ThresholdTable:
    """Fit per-type, per-group and global thresholds on calibrated probabilities.

    ``types[i]`` is the tuple of TUIs of pair ``i``'s candidate concept; a pair with several
    TUIs counts for each, and for each of their semantic groups (``load_semantic_network``).
    A TUI or group gets its own threshold (see :func:`best_threshold` for ``objective`` and
    ``precision_target``) when it has ``>= min_examples`` pairs including at least one
    positive and one negative; the global threshold uses every pair.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown threshold objective {objective!r} (expected one of {OBJECTIVES})")
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if p.size != y.size or len(types) != y.size:
        raise ValueError(f"probs ({p.size}), labels ({y.size}) and types ({len(types)}) differ in length")
    if y.size == 0 or y.min() == y.max():
        raise ValueError("thresholds need both positive and negative pairs")
    network = load_semantic_network()
    ids, distinct = _encode(types)
    groups_of_distinct = [network.groups_of(tuis) for tuis in distinct]

    def fit_level(index: dict[str, np.ndarray]) -> tuple[dict[str, dict], dict[str, int]]:
        own: dict[str, dict] = {}
        fallback: dict[str, int] = {}
        for key in sorted(index):
            idx = index[key]
            sub = y[idx]
            if idx.size >= min_examples and sub.min() != sub.max():
                own[key] = best_threshold(p[idx], sub, objective, precision_target)
            else:
                fallback[key] = int(idx.size)
        return own, fallback

    type_table, type_fallback = fit_level(_index_by_key(ids, distinct))
    group_table, group_fallback = fit_level(_index_by_key(ids, groups_of_distinct))
    return ThresholdTable(
        global_stats=best_threshold(p, y, objective, precision_target),
        types=type_table,
        groups=group_table,
        objective=objective,
        precision_target=float(precision_target) if objective == "precision" else None,
        min_examples=int(min_examples),
        fallback_types=type_fallback,
        fallback_groups=group_fallback,
    )
