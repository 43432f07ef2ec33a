"""Equal retrieval scores are ordered by training-mention priors, identically on every device."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenc_toolkit.config import CandidateConfig
from xenc_toolkit.corpora.mention import Mention
from xenc_toolkit.kb.from_corpus import add_mention_names, kb_from_mentions
from xenc_toolkit.kb.model import ConceptRecord, KnowledgeBase
from xenc_toolkit.retrieval.candidate_generator import CandidateGenerator
from xenc_toolkit.retrieval.candidates import TIE_TOLERANCE, aggregate_to_concepts, break_ties


def _mention(i: int, text: str, gold: str | tuple[str, ...]) -> Mention:
    gold_ids = (gold,) if isinstance(gold, str) else gold
    return Mention(mention_id=f"m{i}", doc_id="d1", text=text, gold_ids=gold_ids)


@pytest.fixture()
def medic_like_kb() -> KnowledgeBase:
    # MEDIC 2012 really lists "DM" for OMIM 160900 (dystrophia myotonica 1); NCBI-disease annotates
    # "DM" as D009223 (myotonic dystrophy), whose MEDIC names lack it.
    return KnowledgeBase.from_records(
        [
            ConceptRecord("160900", ["Dystrophia myotonica 1", "DM", "DM1"]),
            ConceptRecord("D009223", ["Myotonic Dystrophy", "Dystrophia Myotonica"], alt_ids=["MESH:D009223"]),
            ConceptRecord("D003920", ["Diabetes Mellitus"]),
        ]
    )


def test_mention_counts_are_recorded_for_added_and_existing_names(medic_like_kb, tmp_path):
    mentions = [
        _mention(0, "DM", "D009223"),
        _mention(1, "DM", "MESH:D009223"),
        _mention(2, "Myotonic Dystrophy", "D009223"),  # already a dictionary name
        _mention(3, "DM", ("D009223", "D003920")),  # composite: names neither
        _mention(4, "diabetes", "D999999"),  # not in the KB
    ]
    kb, added = add_mention_names(medic_like_kb, mentions)
    assert added == 1
    counts = {
        (kb.concept_ids[c], n): int(k) for c, n, k in zip(kb.name_concept, kb.name_list, kb.name_mentions, strict=True)
    }
    assert counts[("D009223", "DM")] == 2
    assert counts[("D009223", "Myotonic Dystrophy")] == 1
    assert counts[("160900", "DM")] == 0
    assert kb.concept_mentions.tolist() == [0, 3, 0]
    # augmenting again adds to the earlier counts; save/load and subsets keep the column
    again, _ = add_mention_names(kb, [_mention(5, "DM", "160900")])
    assert (
        dict(
            zip(
                zip(again.name_concept.tolist(), again.name_list, strict=True),
                again.name_mentions.tolist(),
                strict=True,
            )
        )[(1, "DM")]
        == 2
    )
    assert again.concept_mentions.tolist() == [1, 3, 0]
    loaded = KnowledgeBase.load(again.save(tmp_path / "kb"))
    assert loaded.name_mentions.tolist() == again.name_mentions.tolist()
    sub = again.subset([1])
    assert sub.concept_mentions.tolist() == [3]
    assert medic_like_kb.name_mentions.tolist() == [0] * medic_like_kb.n_names


def test_dictionary_flags_tell_dictionary_names_from_mention_strings(medic_like_kb, tmp_path):
    checksum = medic_like_kb.checksum
    assert "dictionary" not in medic_like_kb.names.column_names and medic_like_kb.name_in_dictionary.all()
    kb, _ = add_mention_names(
        medic_like_kb, [_mention(0, "DM", "D009223"), _mention(1, "Myotonic Dystrophy", "D009223")]
    )
    flags = dict(
        zip(zip(kb.name_concept.tolist(), kb.name_list, strict=True), kb.name_in_dictionary.tolist(), strict=True)
    )
    assert flags.pop((1, "DM")) is False  # added by a mention
    assert flags[(1, "Myotonic Dystrophy")] is True  # a mention carried it too: still a dictionary name
    assert all(flags.values()) and kb.names.schema.field("dictionary").type == "bool"
    # augmenting again keeps earlier mention strings non-dictionary; save/load and subsets keep the column
    again, _ = add_mention_names(kb, [_mention(2, "DM", "D009223"), _mention(3, "T2D", "D003920")])
    assert [n for n, d in zip(again.name_list, again.name_in_dictionary, strict=True) if not d] == ["DM", "T2D"]
    loaded = KnowledgeBase.load(again.save(tmp_path / "kb"))
    assert loaded.name_in_dictionary.tolist() == again.name_in_dictionary.tolist()
    assert loaded.checksum == again.checksum != kb.checksum
    sub = again.subset([2, 1])
    assert [n for n, d in zip(sub.name_list, sub.name_in_dictionary, strict=True) if not d] == ["DM", "T2D"]
    assert sub.n_names == 5 and sub.name_concept.tolist() == [1, 1, 1, 0, 0]
    assert medic_like_kb.checksum == checksum and KnowledgeBase.from_records([]).checksum  # no column, as before


def test_kb_from_mentions_counts_surface_forms():
    kb = kb_from_mentions([_mention(0, "HD", "C1"), _mention(1, "HD", "C1"), _mention(2, "Huntington", "C1")])
    assert dict(zip(kb.name_list, kb.name_mentions.tolist(), strict=True)) == {"HD": 2, "Huntington": 1}
    assert kb.name_in_dictionary.tolist() == [False, False]  # every name is a mention string


def test_break_ties_orders_by_name_prior_then_concept_prior_then_row():
    name_concept = np.array([0, 1, 2, 3, 4, 5], dtype=np.int32)
    name_prior = np.array([0, 0, 5, 0, 0, 0])
    concept_prior = np.array([0, 2, 0, 0, 9, 0])
    ids = np.array([[0, 1, 2, 3, -1], [3, 0, 4, 5, 1]])
    scores = np.array([[0.9, 0.9, 0.9 - TIE_TOLERANCE / 2, 0.5, np.nan], [0.99, 0.8, 0.7, 0.6, 0.5]], np.float32)
    out_ids, out_scores = break_ties(ids, scores, name_concept, name_prior, concept_prior)
    assert out_ids[0].tolist() == [2, 1, 0, 3, -1]  # name prior, then concept prior, then row
    assert out_scores[0, :3].tolist() == [scores[0, 0]] * 3  # the group shares its best score
    assert out_scores[0, 3] == scores[0, 3] and np.isnan(out_scores[0, 4])
    assert out_ids[1].tolist() == ids[1].tolist() and out_scores[1].tolist() == scores[1].tolist()  # no tie: as is
    # the searcher's order among ties does not matter
    swapped, _ = break_ties(ids[:, [2, 0, 1, 3, 4]], scores, name_concept, name_prior, concept_prior)
    assert swapped[0].tolist() == out_ids[0].tolist()


def _reference(ids_row, scores_row, name_concept, name_prior, concept_prior, tol):
    """Per-row reference: group consecutive ties, then sort each group by the priors."""
    items = [(int(i), float(s)) for i, s in zip(ids_row, scores_row, strict=True) if i >= 0]
    groups: list[list[tuple[int, float]]] = []
    for j, item in enumerate(items):
        if j and items[j - 1][1] - item[1] <= tol:
            groups[-1].append(item)
        else:
            groups.append([item])
    out = []
    for g in groups:
        best = g[0][1]
        g = sorted(g, key=lambda it: (-name_prior[it[0]], -concept_prior[name_concept[it[0]]], it[0]))
        out += [(i, best) for i, _ in g]
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(2, 8),
    st.integers(0, 10_000),
)
def test_break_ties_matches_a_per_row_reference(n_rows, k, seed):
    rng = np.random.default_rng(seed)
    n_names = 12
    name_concept = rng.integers(0, 5, n_names).astype(np.int32)
    name_prior = rng.integers(0, 3, n_names)
    concept_prior = rng.integers(0, 3, 5)
    ids = np.stack([rng.permutation(n_names)[:k] for _ in range(n_rows)])
    scores = -np.sort(-rng.choice([0.9, 0.8, 0.8 - TIE_TOLERANCE / 3, 0.5], (n_rows, k)), axis=1).astype(np.float32)
    n_invalid = rng.integers(0, k)
    if n_invalid:
        ids[:, -n_invalid:] = -1
        scores[:, -n_invalid:] = np.nan
    out_ids, out_scores = break_ties(ids, scores, name_concept, name_prior, concept_prior)
    for r in range(n_rows):
        expected = _reference(ids[r], scores[r], name_concept, name_prior, concept_prior, TIE_TOLERANCE)
        got = [(int(i), float(s)) for i, s in zip(out_ids[r], out_scores[r], strict=True) if i >= 0]
        assert [i for i, _ in got] == [i for i, _ in expected]
        assert np.allclose([s for _, s in got], [s for _, s in expected])
        assert (out_ids[r] < 0).sum() == n_invalid


def test_shared_name_goes_to_the_concept_training_mentions_gave_it(medic_like_kb):
    """End to end through TF-IDF candidates: 'DM' resolves by the training annotations, not by row order."""
    kb, _ = add_mention_names(medic_like_kb, [_mention(0, "DM", "D009223"), _mention(1, "DM", "D009223")])
    generator = CandidateGenerator(kb, CandidateConfig(generator="tfidf", n_candidates=3))
    lists = generator.tfidf_candidates(["DM"])
    first, second = lists.concepts[0, :2]
    assert kb.concept_ids[first] == "D009223" and kb.concept_ids[second] == "160900"
    assert lists.scores[0, 0] == lists.scores[0, 1]
    # without priors the lower name row (160900's dictionary "DM") would win the tie
    plain = aggregate_to_concepts(*_tfidf_rows(generator, "DM"), kb.name_concept, 3, "tfidf")
    assert kb.concept_ids[plain.concepts[0, 0]] == "160900"


def _tfidf_rows(generator, text):
    scores, ids = generator.tfidf.search([text], generator.top_k_names)
    return ids, scores
