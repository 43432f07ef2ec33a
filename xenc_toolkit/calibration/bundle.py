"""The calibration bundle saved in a model directory (its file name: :mod:`xenc_toolkit.reranker.model_dir`).

It holds the chosen calibrator, the decision thresholds (per type / group / global),
the high-confidence threshold, the cross-validation report and metadata. The model
directory stays a plain CrossEncoder directory; this small JSON sits beside it. Its
``metadata["provenance"]`` record names the model (and pairs) it was fitted on;
:func:`load_model_calibration` refuses a calibration fitted on another model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputFormatError, MissingInputError
from ..reranker.model_dir import calibration_file, load_provenance
from ..utils.io import atomic_write_json
from ..utils.lines import read_text
from ..utils.provenance import Artefact, Check, require_match
from .selection import Calibrator, calibrator_from_dict, score_probabilities, select_calibrator
from .temperature import check_fit_inputs, sigmoid
from .thresholds import ThresholdTable, best_threshold, fit_thresholds

__all__ = ["Calibration", "fit_calibration", "load_model_calibration", "FORMAT_VERSION"]

FORMAT_VERSION = "xenc-calibration/1"
TIERS = ("high", "medium", "low")


def _resolve(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir() or (not path.suffix and not path.exists()):
        return calibration_file(path)
    return path


@dataclass
class Calibration:
    """Calibrator + thresholds + high-confidence threshold + CV report + metadata.

    ``high_threshold`` is the lowest calibrated probability at which the pairs used for
    fitting reach ``high_confidence_precision``; ``None`` when no threshold reaches it
    (then no link is ever "high").
    """

    calibrator: Calibrator
    thresholds: ThresholdTable
    high_threshold: float | None
    high_confidence_precision: float
    cv_report: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    high_stats: dict | None = None

    @property
    def method(self) -> str:
        return self.calibrator.name

    def probabilities(self, logits) -> np.ndarray:
        """Calibrated probabilities of raw CrossEncoder logits."""
        return self.calibrator.predict_proba(logits)

    def threshold_for(self, tuis) -> float:
        return self.thresholds.threshold_for(tuis)

    def tier(self, prob: float, tuis) -> str:
        """``"high"`` if ``prob >= high_threshold``; ``"medium"`` if ``prob >= threshold_for(tuis)``; else ``"low"``."""
        if self.high_threshold is not None and prob >= self.high_threshold:
            return "high"
        if prob >= self.threshold_for(tuis):
            return "medium"
        return "low"

    def tiers(self, probs, types: Sequence) -> list[str]:
        """:meth:`tier` for many pairs at once."""
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        thresholds = self.thresholds.thresholds_for(types)
        high = np.inf if self.high_threshold is None else self.high_threshold
        out = np.where(probs >= high, "high", np.where(probs >= thresholds, "medium", "low"))
        return out.tolist()

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "method": self.method,
            "calibrator": self.calibrator.to_dict(),
            "thresholds": self.thresholds.to_dict(),
            "high_threshold": self.high_threshold,
            "high_confidence_precision": self.high_confidence_precision,
            "high_stats": self.high_stats,
            "cv_report": self.cv_report,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(
            calibrator=calibrator_from_dict(data["calibrator"]),
            thresholds=ThresholdTable.from_dict(data["thresholds"]),
            high_threshold=None if data.get("high_threshold") is None else float(data["high_threshold"]),
            high_confidence_precision=float(data["high_confidence_precision"]),
            cv_report=data.get("cv_report", {}),
            metadata=data.get("metadata", {}),
            high_stats=data.get("high_stats"),
        )

    def save(self, path: str | Path) -> Path:
        """Write the bundle as JSON (atomically); a model directory gets its calibration file."""
        return atomic_write_json(_resolve(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a bundle from its JSON file or from the model directory holding it."""
        file = _resolve(path)
        if not file.exists():
            raise MissingInputError(file, "calibration file")
        try:
            data = json.loads(read_text(file, what="calibration file"))
        except json.JSONDecodeError as exc:
            raise InputFormatError(file, exc.lineno, f"not valid JSON ({exc.msg})", "an xenc calibration file") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise InputFormatError(file, None, f"unknown calibration format {found!r}", f"format {FORMAT_VERSION!r}")
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFormatError(file, None, f"bad calibration content ({exc})", "an xenc calibration file") from exc


def fit_calibration(
    logits,
    labels,
    mention_ids,
    types: Sequence,
    *,
    methods: Sequence[str] = ("temperature", "platt", "isotonic"),
    folds: int = 5,
    selection_metric: str = "brier",
    threshold_objective: str = "f1",
    precision_target: float = 0.95,
    min_examples: int = 50,
    high_confidence_precision: float = 0.95,
    seed: int = 42,
    n_bins: int = 15,
    metadata: dict | None = None,
) -> Calibration:
    """Fit the whole calibration bundle on scored pairs (logits of a held-out split).

    1. :func:`select_calibrator` picks the method by ``folds``-fold cross-validation grouped
       by ``mention_ids`` on ``selection_metric`` and refits it on all pairs;
    2. :func:`fit_thresholds` fits per-type/group/global thresholds on its probabilities
       (``types[i]`` = TUIs of pair ``i``'s candidate);
    3. ``high_threshold`` = lowest probability reaching ``high_confidence_precision``.

    ``metadata`` (optional) is stored as given, next to counts, settings and the Brier/ECE/
    log-loss of the raw sigmoid and of the calibrated probabilities on the fitting pairs.
    """
    x, y = check_fit_inputs(logits, labels)
    mention_ids = np.asarray(mention_ids).reshape(-1)
    if mention_ids.size != x.size or len(types) != x.size:
        raise ValueError(
            f"logits ({x.size}), mention_ids ({mention_ids.size}) and types ({len(types)}) differ in length"
        )
    calibrator, report = select_calibrator(
        x, y, mention_ids, methods=methods, folds=folds, metric=selection_metric, seed=seed, n_bins=n_bins
    )
    probs = calibrator.predict_proba(x)
    table = fit_thresholds(
        probs, y, types, objective=threshold_objective, precision_target=precision_target, min_examples=min_examples
    )
    high = best_threshold(probs, y, objective="precision", precision_target=high_confidence_precision)
    high_threshold = high["threshold"] if high["target_reached"] else None
    info = {
        "method": calibrator.name,
        "methods_compared": list(methods),
        "selection_metric": selection_metric,
        "folds": int(folds),
        "seed": int(seed),
        "n_pairs": int(x.size),
        "n_positive": int(y.sum()),
        "n_mentions": int(np.unique(mention_ids).size),
        "fit_uncalibrated": score_probabilities(y, sigmoid(x), n_bins),
        "fit_calibrated": score_probabilities(y, probs, n_bins),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "xenc_toolkit_version": __version__,
    }
    info.update(metadata or {})
    return Calibration(
        calibrator=calibrator,
        thresholds=table,
        high_threshold=high_threshold,
        high_confidence_precision=float(high_confidence_precision),
        cv_report=report,
        metadata=info,
        high_stats=high,
    )


def load_model_calibration(
    model_dir: str | Path, calibration_file: str | Path | None = None, allow_mismatch: bool = False
) -> Calibration | None:
    """The calibration saved in ``model_dir`` (or ``calibration_file``); None when the model has none.

    Raises:
        ArtifactMismatchError: the calibration was fitted on another model (unless ``allow_mismatch``).
    """
    path = Path(calibration_file) if calibration_file else _resolve(model_dir)
    if calibration_file and not path.exists():
        raise MissingInputError(path, "calibration file")
    if not path.exists():
        return None
    calibration = Calibration.load(path)
    require_match(
        Artefact("calibration", path, calibration.metadata.get("provenance")),
        Artefact("model", model_dir, load_provenance(model_dir)),
        [Check("model", "inputs.model.id", other_key="id", shown="inputs.model.path")],
        allow=allow_mismatch,
        remedy="its probabilities and thresholds were fitted on another model's scores; run xenc calibrate "
        "for this model",
    )
    return calibration
