"""Isotonic calibration: a non-decreasing step/linear map fitted on ``sigmoid(logit)``."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

from .registry import CALIBRATORS
from .temperature import check_fit_inputs, check_logits, sigmoid

__all__ = ["IsotonicCalibrator"]


@CALIBRATORS.register("isotonic", order=2)
class IsotonicCalibrator:
    """sklearn ``IsotonicRegression(out_of_bounds="clip")`` on ``sigmoid(logit)``.

    The fitted map is stored as its knots (``x`` = sigmoid(logit) thresholds, ``y`` =
    probabilities) so it can be written as JSON; predictions interpolate linearly between
    knots and clip outside them (what sklearn does), with ``np.interp`` both after fitting
    and after loading, so a JSON round trip gives identical probabilities.

    The most flexible method: it can fix any monotone miscalibration but overfits small
    data (it can output exact 0 or 1). Ties in the input can merge candidates' scores,
    so it may turn a strict ranking into ties.
    """

    name = "isotonic"

    def __init__(self, x=None, y=None):
        self.x = np.asarray([] if x is None else x, dtype=np.float64)
        self.y = np.asarray([] if y is None else y, dtype=np.float64)
        if self.x.shape != self.y.shape:
            raise ValueError("isotonic knots x and y differ in length")

    def fit(self, logits, labels) -> IsotonicCalibrator:
        x, y = check_fit_inputs(logits, labels)
        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        model.fit(sigmoid(x), y.astype(np.float64))
        self.x = np.asarray(model.X_thresholds_, dtype=np.float64)
        self.y = np.asarray(model.y_thresholds_, dtype=np.float64)
        return self

    def predict_proba(self, logits) -> np.ndarray:
        if self.x.size == 0:
            raise ValueError("IsotonicCalibrator is not fitted")
        return np.clip(np.interp(sigmoid(check_logits(logits)), self.x, self.y), 0.0, 1.0)

    def to_dict(self) -> dict:
        return {"method": self.name, "x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> IsotonicCalibrator:
        if data.get("method") != cls.name:
            raise ValueError(f"not an isotonic calibrator: method={data.get('method')!r}")
        return cls(x=data["x"], y=data["y"])

    def __repr__(self) -> str:
        return f"IsotonicCalibrator(knots={self.x.size})"
