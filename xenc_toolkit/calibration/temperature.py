"""Temperature scaling: ``p = sigmoid(logit / T)`` with one fitted temperature ``T > 0``.

Also holds the small helpers the other calibrators share (input checks, a stable
sigmoid and binary log-loss).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from .registry import CALIBRATORS

__all__ = ["TemperatureScaler", "sigmoid", "check_logits", "check_fit_inputs"]


def sigmoid(logits) -> np.ndarray:
    """Numerically stable logistic function."""
    return expit(np.asarray(logits, dtype=np.float64))


def check_logits(logits) -> np.ndarray:
    arr = np.asarray(logits, dtype=np.float64).reshape(-1)
    if arr.size and not np.isfinite(arr).all():
        raise ValueError("logits must be finite")
    return arr


def check_fit_inputs(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D float logits and 0/1 int labels with both classes present."""
    x = check_logits(logits)
    y = np.asarray(labels).reshape(-1)
    if y.size != x.size:
        raise ValueError(f"logits and labels differ in length ({x.size} vs {y.size})")
    if not np.isin(y, (0, 1, True, False)).all():
        raise ValueError("labels must be 0/1")
    y = y.astype(np.int64)
    if x.size == 0 or y.min() == y.max():
        raise ValueError("calibration needs both positive and negative examples")
    return x, y


def _nll_and_grad(log_t: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of sigmoid(x / T) against y, and its derivative in log T."""
    beta = float(np.exp(-log_t[0]))
    z = beta * x
    # -log sigmoid(z) = logaddexp(0, z) - z, so the loss is logaddexp(0, z) - y * z (stable)
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
    d_beta = float(np.mean((expit(z) - y) * x))
    return loss, np.array([-beta * d_beta])


@CALIBRATORS.register("temperature", order=0)
class TemperatureScaler:
    """One temperature ``T``: ``p = sigmoid(logit / T)``.

    ``T`` minimises the mean negative log-likelihood of the labels; it is searched on
    ``log T`` in ``[log min_temperature, log max_temperature]`` with L-BFGS-B and the analytic
    gradient (the NLL is convex in ``1/T``, so unimodal in ``log T``), which keeps ``T > 0``. ``T > 1`` softens an
    over-confident model, ``T < 1`` sharpens an under-confident one. Temperature scaling
    never changes the ranking of candidates.
    """

    name = "temperature"

    def __init__(self, temperature: float = 1.0, min_temperature: float = 1e-3, max_temperature: float = 1e3):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.min_temperature = float(min_temperature)
        self.max_temperature = float(max_temperature)

    def fit(self, logits, labels) -> TemperatureScaler:
        x, y = check_fit_inputs(logits, labels)
        bounds = (float(np.log(self.min_temperature)), float(np.log(self.max_temperature)))
        result = minimize(
            _nll_and_grad,
            x0=np.array([0.0]),
            args=(x, y.astype(np.float64)),
            jac=True,
            method="L-BFGS-B",
            bounds=[bounds],
            options={"ftol": 1e-12, "gtol": 1e-9, "maxiter": 200},
        )
        self.temperature = float(np.exp(result.x[0]))
        return self

    def predict_proba(self, logits) -> np.ndarray:
        return sigmoid(check_logits(logits) / self.temperature)

    def to_dict(self) -> dict:
        return {"method": self.name, "temperature": self.temperature}

    @classmethod
    def from_dict(cls, data: dict) -> TemperatureScaler:
        if data.get("method") != cls.name:
            raise ValueError(f"not a temperature calibrator: method={data.get('method')!r}")
        return cls(temperature=float(data["temperature"]))

    def __repr__(self) -> str:
        return f"TemperatureScaler(temperature={self.temperature:.4g})"
