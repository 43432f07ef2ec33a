"""Probability calibration of CrossEncoder scores and per-type decision thresholds.

Raw CrossEncoder logits become probabilities through one of three calibrators
(:class:`TemperatureScaler`, :class:`PlattScaler`, :class:`IsotonicCalibrator`), chosen
by cross-validation over mentions (:func:`select_calibrator`). Decision thresholds are
fitted per semantic type, per semantic group and globally (:func:`fit_thresholds`).
:func:`fit_calibration` does all of it and returns a :class:`Calibration` bundle, saved
in the model directory (see :mod:`xenc_toolkit.reranker.model_dir`).
"""

from __future__ import annotations

from .bundle import Calibration, fit_calibration, load_model_calibration
from .isotonic import IsotonicCalibrator
from .platt import PlattScaler
from .selection import (
    CALIBRATORS,
    Calibrator,
    calibrator_from_dict,
    make_calibrator,
    score_probabilities,
    select_calibrator,
)
from .temperature import TemperatureScaler
from .thresholds import ThresholdTable, best_threshold, fit_thresholds

__all__ = [
    "CALIBRATORS",
    "Calibration",
    "Calibrator",
    "IsotonicCalibrator",
    "PlattScaler",
    "TemperatureScaler",
    "ThresholdTable",
    "best_threshold",
    "calibrator_from_dict",
    "fit_calibration",
    "load_model_calibration",
    "fit_thresholds",
    "make_calibrator",
    "score_probabilities",
    "select_calibrator",
]
