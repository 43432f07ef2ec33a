"""The model directory: a plain CrossEncoder directory plus xenc's sidecar files, owned here alone.

``xenc train`` writes a directory that ``sentence_transformers.CrossEncoder(path)`` loads with
nothing from this package. Next to the weights, xenc keeps what its own commands need to use the
model exactly as it was trained and fitted:

==========================  ==========================================================  =================
file                        what                                                        written by
==========================  ==========================================================  =================
``xenc_input_format.json``  how query and candidate texts are written (also in a        ``xenc mine``,
                            pairs directory)                                            ``xenc train``
``xenc_candidates.json``    the candidate generator settings the model was mined with   ``xenc train``
``xenc_training.json``      the exact training config, package versions, metrics        ``xenc train``
``xenc_calibration.json``   probability calibration and per-type thresholds             ``xenc calibrate``
``xenc_fusion.json``        the reranker + retrieval score fusion weight                ``xenc calibrate``
``xenc_confidence.json``    P(top-1 correct) per linked mention, tiers, NIL threshold   ``xenc calibrate``
``xenc_provenance.json``    the provenance record: the KB, encoder, candidates and      ``xenc train``
                            input format of the pairs it was trained on, its config
==========================  ==========================================================  =================

Every other module reads and writes them through the functions here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MissingInputError
from ..settings import InputFormatConfig
from ..utils.io import atomic_write_json, read_json
from ..utils.library_logs import quiet_loading
from ..utils.provenance import Artefact, Check, read_record, require_match, write_record

INPUT_FORMAT_FILE = "xenc_input_format.json"
CANDIDATES_FILE = "xenc_candidates.json"
TRAINING_INFO_FILE = "xenc_training.json"
CALIBRATION_FILE = "xenc_calibration.json"
FUSION_FILE = "xenc_fusion.json"
CONFIDENCE_FILE = "xenc_confidence.json"
PROVENANCE_FILE = "xenc_provenance.json"

# the candidate generator settings that must match for a fusion weight to apply
_FUSION_KEYS = ("generator", "fusion", "rrf_k", "alpha")


# --------------------------------------------------------------------------- input format
def save_input_format(fmt: InputFormatConfig, directory: str | Path) -> Path:
    """Write the query/candidate text format into a model or pairs directory."""
    return atomic_write_json(Path(directory) / INPUT_FORMAT_FILE, fmt.model_dump(mode="json"))


def load_input_format(directory: str | Path) -> InputFormatConfig | None:
    """The text format saved in a model or pairs directory, if any."""
    path = Path(directory) / INPUT_FORMAT_FILE
    if not path.exists():
        return None
    return InputFormatConfig.model_validate(read_json(path))


def check_input_format(model_dir: str | Path, pairs_dir: str | Path, allow_mismatch: bool = False) -> None:
    """Refuse a pairs directory mined with another text format than the model was trained with
    (:class:`~xenc_toolkit.errors.ArtifactMismatchError`; a warning with ``allow_mismatch``)."""
    model_fmt = load_input_format(model_dir)
    pairs_fmt = load_input_format(pairs_dir)
    if model_fmt is None or pairs_fmt is None:
        return
    require_match(
        Artefact("model", model_dir, {"input_format": model_fmt.model_dump()}, Path(model_dir) / INPUT_FORMAT_FILE),
        Artefact("pairs", pairs_dir, {"input_format": pairs_fmt.model_dump()}, Path(pairs_dir) / INPUT_FORMAT_FILE),
        [Check("input format", "input_format")],
        allow=allow_mismatch,
        remedy="the model would score texts written unlike those it was trained on; mine the split again with "
        "the model's input format",
    )


# --------------------------------------------------------------------------- provenance
def save_provenance(model_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write a model directory's provenance record (:mod:`xenc_toolkit.utils.provenance`)."""
    return write_record(model_dir, record, PROVENANCE_FILE)


def load_provenance(model_dir: str | Path) -> dict[str, Any] | None:
    """A model directory's provenance record; None for a model trained before records existed."""
    return read_record(model_dir, PROVENANCE_FILE)


# --------------------------------------------------------------------------- candidates and training info
def save_candidate_config(model_dir: str | Path, candidates: dict[str, Any]) -> Path:
    return atomic_write_json(Path(model_dir) / CANDIDATES_FILE, candidates)


def load_candidate_config(model_dir: str | Path) -> dict | None:
    """The candidate generator settings a model was trained with, if saved."""
    path = Path(model_dir) / CANDIDATES_FILE
    return read_json(path) if path.exists() else None


def save_training_info(model_dir: str | Path, info: dict[str, Any]) -> Path:
    return atomic_write_json(Path(model_dir) / TRAINING_INFO_FILE, info)


def load_training_info(model_dir: str | Path) -> dict | None:
    path = Path(model_dir) / TRAINING_INFO_FILE
    return read_json(path) if path.exists() else None


# --------------------------------------------------------------------------- calibration and fusion
def calibration_file(model_dir: str | Path) -> Path:
    """Where a model directory keeps its calibration (the file may not exist yet)."""
    return Path(model_dir) / CALIBRATION_FILE


def save_fusion(model_dir: str | Path, info: dict) -> Path:
    return atomic_write_json(Path(model_dir) / FUSION_FILE, info)


def load_fusion(model_dir: str | Path, generator: dict | None = None) -> dict | None:
    """The saved fusion, if any (and, when ``generator`` is given, only if it was fitted for it)."""
    path = Path(model_dir) / FUSION_FILE
    if not path.exists():
        return None
    info = read_json(path)
    fitted_for = info.get("candidates")
    if (
        generator is not None
        and fitted_for is not None
        and any(fitted_for.get(k) != generator.get(k) for k in _FUSION_KEYS)
    ):
        return None
    return info


def save_confidence(model_dir: str | Path, data: dict) -> Path:
    return atomic_write_json(Path(model_dir) / CONFIDENCE_FILE, data)


def load_confidence_data(model_dir: str | Path) -> dict | None:
    """The saved link-confidence fit (``calibration.confidence.LinkConfidence.to_dict()``), if any."""
    path = Path(model_dir) / CONFIDENCE_FILE
    return read_json(path) if path.exists() else None


# --------------------------------------------------------------------------- the model itself
def load_cross_encoder(model_dir: str | Path, device: str | None = None):
    """The CrossEncoder of a model directory (a clear error when it is not one)."""
    from sentence_transformers import CrossEncoder

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise MissingInputError(model_dir, "CrossEncoder model directory (run `xenc train` first)")
    with quiet_loading():
        return CrossEncoder(str(model_dir), device=device)
