"""Platt scaling: ``p = sigmoid(a * logit + b)`` fitted by logistic regression."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from .registry import CALIBRATORS
from .temperature import check_fit_inputs, check_logits, sigmoid

__all__ = ["PlattScaler"]


@CALIBRATORS.register("platt", order=1)
class PlattScaler:
    """``p = sigmoid(a * logit + b)``; ``a`` and ``b`` from sklearn's ``LogisticRegression``.

    ``C`` is large (weak L2 penalty), so this is essentially unregularised maximum
    likelihood while staying finite on perfectly separable data. Unlike temperature
    scaling it also shifts the decision boundary (``b``); with ``a > 0`` it keeps the
    candidate ranking.
    """

    name = "platt"

    def __init__(self, a: float = 1.0, b: float = 0.0, C: float = 1e4, max_iter: int = 1000):
        self.a = float(a)
        self.b = float(b)
        self.C = float(C)
        self.max_iter = int(max_iter)

    def fit(self, logits, labels) -> PlattScaler:
        x, y = check_fit_inputs(logits, labels)
        model = LogisticRegression(C=self.C, solver="lbfgs", max_iter=self.max_iter)
        with warnings.catch_warnings():
            # separable data: the optimum is at the (large) penalty's edge; the fit is still usable
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x.reshape(-1, 1), y)
        self.a = float(model.coef_[0, 0])
        self.b = float(model.intercept_[0])
        return self

    def predict_proba(self, logits) -> np.ndarray:
        return sigmoid(self.a * check_logits(logits) + self.b)

    def to_dict(self) -> dict:
        return {"method": self.name, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict) -> PlattScaler:
        if data.get("method") != cls.name:
            raise ValueError(f"not a Platt calibrator: method={data.get('method')!r}")
        return cls(a=float(data["a"]), b=float(data["b"]))

    def __repr__(self) -> str:
        return f"PlattScaler(a={self.a:.4g}, b={self.b:.4g})"
