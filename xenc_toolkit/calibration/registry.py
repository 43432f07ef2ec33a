"""The calibrator registry (``methods`` of ``xenc calibrate``): each calibrator is one module of this
package that registers its class (``fit``, ``predict_proba``, ``to_dict``, ``from_dict``)."""

from __future__ import annotations

from ..utils.registry import Registry

CALIBRATORS: Registry = Registry("calibration method", "xenc_toolkit.calibration", "methods")
