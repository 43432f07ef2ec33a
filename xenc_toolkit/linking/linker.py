"""The Stage-3 :class:`Linker`: mention strings in, UMLS concepts with calibrated confidence out.

::

    from xenc_toolkit.linking import Linker

    linker = Linker.from_pretrained("runs/model/best", "runs/index")
    for result in linker.link(["aspirin", "MI"], contexts=["took aspirin daily", "after an acute MI ."]):
        print(result.concept_id, result.name, result.probability, result.tier)

For each mention: candidates from the index (dense / TF-IDF / fused, as mined),
reranked by the CrossEncoder, probabilities from the calibration saved next to the
model: P(the linked concept is correct) with its tier and, below the NIL threshold, no concept
(see :class:`LinkResult`), the margin over the runner-up and the top-k alternatives. Repeated (mention, context, types) inputs in a
batch are linked once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..calibration import Calibration, load_model_calibration
from ..calibration.confidence import LinkConfidence, candidate_softmax, load_link_confidence
from ..reranker.formatting import format_candidate, format_query
from ..reranker.model_dir import (
    load_candidate_config,
    load_cross_encoder,
    load_fusion,
    load_input_format,
    load_provenance,
)
from ..reranker.score_fusion import fuse_scores
from ..reranker.scorer import PairScorer, score_candidate_lists
from ..retrieval.candidate_generator import CandidateGenerator
from ..retrieval.dense_index import DenseIndex
from ..retrieval.generators import GENERATORS
from ..settings import CandidateConfig, InputFormatConfig
from ..utils.provenance import Artefact, Check, read_record, require_match


@dataclass
class Candidate:
    concept_id: str
    name: str
    probability: float  # of being the gold, among this list's candidates
    logit: float
    types: list[str]
    retrieval_score: float | None = None
    pair_probability: float | None = None  # the calibrated sigmoid of the logit (what CrossEncoder.predict gives)


@dataclass
class LinkResult:
    """One linked mention.

    ``probability`` is P(the linked concept is correct), calibrated on held-out mentions (``xenc
    calibrate``); ``tier`` follows it: ``high`` (at or above the threshold that was 95% precise out of
    sample), ``review``, or ``low`` (below the NIL threshold: ``concept_id`` is None and ``nil_reason``
    says why — the concept may be missing from the KB). ``alternatives`` are the top candidates in
    ranking order, each with its probability of being the gold (a softmax over the list, so they are
    sorted by it) and its calibrated pair probability. Without ``xenc calibrate`` the probabilities are
    the uncalibrated softmax shares and no mention is NIL.
    """

    mention: str
    concept_id: str | None
    name: str | None
    probability: float
    margin: float
    tier: str
    types: list[str] = field(default_factory=list)
    alternatives: list[Candidate] = field(default_factory=list)
    type_filter_relaxed: bool = False
    nil_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_context(mention: str, context) -> tuple[str, str]:
    """(left, right) from a ``(left, right)`` pair or a sentence containing the mention."""
    if context is None:
        return "", ""
    if isinstance(context, tuple | list):
        left, right = (list(context) + ["", ""])[:2]
        return left or "", right or ""
    at = context.lower().find(mention.lower())
    if at < 0:
        return context, ""
    return context[:at], context[at + len(mention) :]


def check_model_matches_index(model_dir: Path, index_dir: str | Path, generator: str, allow: bool) -> None:
    """The index must hold the KB the model was trained on and, for dense or fused candidates, be built
    with the encoder that retrieved its training candidates (see :mod:`xenc_toolkit.utils.provenance`)."""
    checks = [Check("KB checksum", "kb.checksum", shown="kb.source")]
    if GENERATORS.entry(generator).meta.get("needs_dense_index"):
        checks += [
            Check("encoder", "encoder.identity", shown="encoder.name"),
            Check("encoder pooling", "encoder.pooling"),
        ]
    require_match(
        Artefact("model", model_dir, load_provenance(model_dir)),
        Artefact("index", index_dir, read_record(index_dir)),
        checks,
        allow=allow,
        remedy=f"the model was trained on {generator} candidates of another KB or encoder, so the index would "
        "give it candidates unlike those it learnt to rank; link with the index its pairs were mined with",
    )


class Linker:
    """Links mentions with a trained CrossEncoder and a dense index (see module docstring)."""

    def __init__(
        self,
        model,
        index: DenseIndex,
        input_format: InputFormatConfig | None = None,
        candidates: CandidateConfig | None = None,
        calibration: Calibration | None = None,
        batch_size: int = 256,
        precision: str = "auto",
        fusion_weight: float | None = None,
        confidence: LinkConfidence | None = None,
    ):
        self.model = model
        self.fusion_weight = fusion_weight  # rank by logit + w x retrieval score (see linking.fusion)
        self.index = index
        self.kb = index.kb
        self.input_format = input_format or InputFormatConfig()
        self.candidate_config = candidates or CandidateConfig(generator="dense")
        self.calibration = calibration
        self.confidence = confidence  # P(top-1 correct), tiers, NIL (xenc calibrate)
        self.scorer = PairScorer(model, batch_size=batch_size, precision=precision)
        self.generator = CandidateGenerator(self.kb, self.candidate_config, dense_index=index, device=str(model.device))

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | Path,
        index_dir: str | Path,
        device: str | None = None,
        n_candidates: int | None = None,
        batch_size: int = 256,
        precision: str = "auto",
        calibration_file: str | Path | None = None,
        allow_mismatch: bool = False,
    ) -> Linker:
        """Load a model directory (plain CrossEncoder + xenc files) and an index directory.

        Raises:
            ArtifactMismatchError: the index is for another KB than the model was trained on, or (dense and
                fused candidates) was built with another encoder; the calibration was fitted on another
                model; the index's encoder changed since it was built. ``allow_mismatch`` turns these
                into warnings.
        """
        model_dir = Path(model_dir)
        candidates = None
        if (saved := load_candidate_config(model_dir)) is not None:
            candidates = CandidateConfig.model_validate(saved)
        candidates = candidates or CandidateConfig(generator="dense")
        model = load_cross_encoder(model_dir, device=device)
        check_model_matches_index(model_dir, index_dir, candidates.generator, allow_mismatch)
        index = DenseIndex.load(index_dir, device=str(model.device), allow_mismatch=allow_mismatch)
        if n_candidates:
            candidates = candidates.model_copy(update={"n_candidates": n_candidates})
        fusion = load_fusion(model_dir, candidates.model_dump())
        return cls(
            model,
            index,
            input_format=load_input_format(model_dir),
            candidates=candidates,
            calibration=load_model_calibration(model_dir, calibration_file, allow_mismatch=allow_mismatch),
            confidence=load_link_confidence(model_dir),
            batch_size=batch_size,
            precision=precision,
            fusion_weight=fusion["weight"] if fusion else None,
        )

    # ------------------------------------------------------------------ helpers
    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        if self.calibration is not None:
            return self.calibration.probabilities(logits)
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    def _tier(self, probability: float, tuis: Sequence[str]) -> str:
        """``high`` / ``review`` / ``low`` from the link confidence; ``review`` for a model never calibrated."""
        if self.confidence is None:
            return "review"
        groups = sorted(self.kb.semantic_network.groups_of(tuple(tuis)))
        return self.confidence.tier(probability, groups[0] if groups else None)

    def _type_ok(self, concept: int, wanted: set[str]) -> bool:
        tuis = self.kb.types_of(concept)
        return bool(wanted.intersection(tuis) or wanted.intersection(self.kb.semantic_network.groups_of(tuis)))

    # ------------------------------------------------------------------ linking
    def link(
        self,
        mentions: Sequence[str],
        contexts: Sequence | None = None,
        types: Sequence[Sequence[str] | str | None] | None = None,
        top_k: int = 5,
    ) -> list[LinkResult]:
        """Link each mention.

        Args:
            mentions: mention strings.
            contexts: per mention a sentence containing it or a ``(left, right)`` pair (used when the
                model was trained with context).
            types: per mention TUIs or semantic groups (e.g. ``["T121"]``, ``"CHEM"``) from the NER
                stage: candidates of other types are dropped (if none is left, all are kept and
                ``type_filter_relaxed`` is set).
            top_k: alternatives reported per mention.
        """
        n = len(mentions)
        contexts = list(contexts) if contexts is not None else [None] * n
        types = list(types) if types is not None else [None] * n
        if len(contexts) != n or len(types) != n:
            raise ValueError(f"{n} mentions but {len(contexts)} contexts and {len(types)} type lists")
        keys, first_of, inverse = [], {}, []
        for mention, context, wanted in zip(mentions, contexts, types, strict=True):
            wanted_t = (wanted,) if isinstance(wanted, str) else tuple(wanted or ())
            left, right = split_context(mention, context)
            key = (mention, left, right, wanted_t)
            if key not in first_of:
                first_of[key] = len(keys)
                keys.append(key)
            inverse.append(first_of[key])
        if not keys:  # no mentions: nothing to retrieve or score
            return []
        unique = self._link_unique(keys, top_k)
        return [unique[i] for i in inverse]

    def _link_unique(self, keys, top_k: int) -> list[LinkResult]:
        kb, fmt = self.kb, self.input_format
        texts = [k[0] for k in keys]
        queries = [format_query(m, left, right, fmt) for m, left, right, _ in keys]
        dense_texts = queries if self.candidate_config.dense_context else texts
        lists = self.generator.generate(texts, dense_texts)["final"]
        cand_rows, relaxed = [], []
        for i, (_, _, _, wanted) in enumerate(keys):
            rows = [j for j in range(lists.depth) if lists.concepts[i, j] >= 0]
            if wanted:
                kept = [j for j in rows if self._type_ok(int(lists.concepts[i, j]), set(wanted))]
                relaxed.append(not kept and bool(rows))
                rows = kept or rows
            else:
                relaxed.append(False)
            cand_rows.append(rows)
        cand_texts = []
        for i, rows in enumerate(cand_rows):
            texts_i = []
            for j in rows:
                c, name_row = int(lists.concepts[i, j]), int(lists.names[i, j])
                name = kb.name_list[name_row] if name_row >= 0 else kb.preferred_names[c]
                type_names = kb.type_names_of(c) if fmt.candidate_types else ()
                texts_i.append(format_candidate(name, kb.preferred_names[c], type_names, fmt))
            cand_texts.append(texts_i)
        logit_lists = score_candidate_lists(self.scorer, queries, cand_texts)
        results = []
        for i, rows in enumerate(cand_rows):
            logits = logit_lists[i]
            if not len(logits):
                results.append(
                    LinkResult(keys[i][0], None, None, 0.0, 0.0, "low", [], [], relaxed[i], "no candidate retrieved")
                )
                continue
            retrieval = lists.scores[i, rows]
            pair_probs = self._probabilities(logits)
            ranking = fuse_scores(logits, retrieval, self.fusion_weight) if self.fusion_weight is not None else logits
            order = np.argsort(-ranking, kind="stable")
            if self.confidence is not None:
                shares = self.confidence.candidate_probabilities(logits, retrieval)
                probability = self.confidence.probability(logits, retrieval)
            else:
                shares = candidate_softmax(ranking, 1.0)
                probability = float(shares[order[0]])
            alts = []
            for o in order[:top_k]:
                c = int(lists.concepts[i, rows[o]])
                score = retrieval[o]
                alts.append(
                    Candidate(
                        kb.concept_ids[c],
                        kb.preferred_names[c],
                        float(shares[o]),
                        float(logits[o]),
                        list(kb.types_of(c)),
                        None if np.isnan(score) else float(score),
                        float(pair_probs[o]),
                    )
                )
            top = alts[0]
            margin = float(shares[order[0]] - (shares[order[1]] if len(order) > 1 else 0.0))
            tier = self._tier(probability, top.types)
            nil_reason = None
            concept_id, name = top.concept_id, top.name
            if self.confidence is not None and self.confidence.is_nil(probability):
                nil_reason = (
                    f"P(correct) {probability:.3f} is below the NIL threshold {self.confidence.nil:.3f}: the concept "
                    "is probably not in the KB (best candidate kept in alternatives)"
                )
                concept_id = name = None
            results.append(
                LinkResult(
                    keys[i][0],
                    concept_id,
                    name,
                    probability,
                    margin,
                    tier,
                    top.types if concept_id else [],
                    alts,
                    relaxed[i],
                    nil_reason,
                )
            )
        return results
