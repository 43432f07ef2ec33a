"""Candidate aggregation and fusion, negative sampling (false-negative filter), pair datasets."""

from __future__ import annotations

import numpy as np
import pytest

from xenc_toolkit.config import CandidateConfig, MineConfig, NegativesConfig
from xenc_toolkit.corpora.mention import Mention
from xenc_toolkit.kb.model import ConceptRecord, KnowledgeBase
from xenc_toolkit.mining.negatives import NegativeSampler
from xenc_toolkit.mining.pairs import Miner, load_candidate_lists, load_pairs, save_mining, to_input_examples
from xenc_toolkit.retrieval.candidates import CandidateLists, aggregate_to_concepts, fuse_lists
from xenc_toolkit.retrieval.tfidf import TfidfIndex


def _brute_aggregate(ids, scores, name_concept, n):
    best = {}
    for name, score in zip(ids, scores, strict=True):
        if name < 0:
            continue
        concept = name_concept[name]
        if concept not in best:
            best[concept] = (score, name)
    return sorted(best.items(), key=lambda item: -item[1][0])[:n]


def test_aggregation_matches_brute_force():
    rng = np.random.default_rng(0)
    name_concept = rng.integers(0, 25, size=80).astype(np.int32)
    for _ in range(30):
        ids = rng.integers(0, 80, size=(6, 16))
        ids[0, 10:] = -1
        scores = -np.sort(-rng.random((6, 16)), axis=1).astype(np.float32)
        lists = aggregate_to_concepts(ids, scores, name_concept, 5, "dense")
        for row in range(6):
            expected = _brute_aggregate(ids[row], scores[row], name_concept, 5)
            got = [int(c) for c in lists.concepts[row] if c >= 0]
            assert got == [int(c) for c, _ in expected]
            assert [int(lists.names[row, i]) for i in range(len(got))] == [int(v[1]) for _, v in expected]
            assert np.all(np.isnan(lists.scores[row, len(got) :]))


def test_rrf_fusion_rewards_agreement():
    a = CandidateLists(np.array([[1, 2, 3]]), np.array([[0.9, 0.8, 0.7]], np.float32), np.array([[10, 20, 30]]), "d")
    b = CandidateLists(np.array([[3, 4, 1]]), np.array([[0.6, 0.5, 0.4]], np.float32), np.array([[31, 40, 11]]), "t")
    fused = fuse_lists(a, b, 4, "rrf", rrf_k=60)
    assert fused.concepts[0].tolist() == [1, 3, 2, 4]  # 1: ranks 0+2, 3: ranks 2+0, then singles
    assert fused.scores[0, 0] == pytest.approx(1 / 61 + 1 / 63)
    assert fused.names[0, 0] == 10  # the best-matching name comes from the first (dense) list


def test_interpolated_fusion_fills_missing_scores_with_the_row_minimum():
    a = CandidateLists(np.array([[1, 2]]), np.array([[0.9, 0.5]], np.float32), np.array([[10, 20]]), "d")
    b = CandidateLists(np.array([[2, 3]]), np.array([[0.8, 0.6]], np.float32), np.array([[21, 30]]), "t")
    fused = fuse_lists(a, b, 3, "interpolate", alpha=0.5)
    expected = {1: 0.5 * 0.9 + 0.5 * 0.6, 2: 0.5 * 0.5 + 0.5 * 0.8, 3: 0.5 * 0.5 + 0.5 * 0.6}
    got = dict(zip(fused.concepts[0].tolist(), fused.scores[0].tolist(), strict=True))
    assert got == pytest.approx(expected)


def test_tfidf_prefers_character_overlap():
    index = TfidfIndex(["myocardial infarction", "cardiac arrest", "aspirin", "infarction of myocardium"])
    scores, ids = index.search(["myocardial infarct", "asprin"], 2)
    assert ids[0, 0] == 0
    assert ids[1, 0] == 2
    assert scores[0, 0] > scores[0, 1]


@pytest.fixture()
def synonym_kb() -> KnowledgeBase:
    return KnowledgeBase.from_records(
        [
            ConceptRecord("C1", ["heart attack", "myocardial infarction"], "Myocardial infarction", ["T047"]),
            ConceptRecord("C2", ["Heart-Attack"], "Heart attack (duplicate source concept)", ["T047"]),
            ConceptRecord("C3", ["angina"], "Angina pectoris", ["T047"]),
            ConceptRecord("C4", ["aspirin"], "Aspirin", ["T121"]),
            ConceptRecord("C5", ["stroke"], "Stroke", ["T047"]),
            ConceptRecord("C6", ["ibuprofen"], "Ibuprofen", ["T121"]),
        ]
    )


def test_false_negative_filter_drops_gold_and_synonym_concepts(synonym_kb):
    sampler = NegativeSampler(synonym_kb, NegativesConfig.model_validate({"hard": {"count": 5}}), seed=0)
    gold = frozenset({0})
    concepts = np.array([0, 1, 2, 3])
    negatives = sampler.hard(gold, concepts, np.array([0.9, 0.88, 0.5, 0.1]), np.array([0, 2, 3, 4]), 0.9)
    chosen = [n.concept for n in negatives]
    assert 0 not in chosen  # the gold
    assert 1 not in chosen  # "Heart-Attack" normalises to a gold name: a synonym, not a negative
    assert chosen == [2, 3]
    assert sampler.filtered["hard"] == 1


def test_hard_negative_rank_range_and_margin(synonym_kb):
    cfg = NegativesConfig.model_validate({"hard": {"count": 5, "min_rank": 1, "max_rank": 3, "margin": 0.2}})
    sampler = NegativeSampler(synonym_kb, cfg, seed=0)
    concepts = np.array([2, 3, 4, 5])
    scores = np.array([0.95, 0.85, 0.6, 0.5], np.float32)
    negatives = sampler.hard(frozenset({0}), concepts, scores, np.array([3, 4, 5, 6]), gold_score=0.9)
    # rank 0 excluded by min_rank, rank 3 by max_rank, rank 1 (0.85 > 0.9 - 0.2) by the margin
    assert [n.concept for n in negatives] == [4]
    assert negatives[0].rank == 2


def test_type_negatives_share_the_gold_type_and_avoid_candidates(synonym_kb):
    cfg = NegativesConfig.model_validate({"hard": {"enabled": False}, "type": {"count": 5}, "random": {"count": 0}})
    sampler = NegativeSampler(synonym_kb, cfg, seed=0)
    negatives = sampler.sample(frozenset({0}), np.array([2]), np.array([0.5]), np.array([3]))
    chosen = {n.concept for n in negatives}
    assert chosen == {4}  # the only T047 concept that is neither gold, synonym nor candidate
    assert all(n.kind == "type" for n in negatives)
    different = NegativeSampler(
        synonym_kb,
        NegativesConfig.model_validate(
            {"hard": {"enabled": False}, "type": {"count": 5, "mode": "different"}, "random": {"count": 0}}
        ),
        seed=0,
    )
    assert {n.concept for n in different.sample(frozenset({0}), np.array([2]), np.array([0.5]), np.array([3]))} == {
        3,
        5,
    }


def test_miner_outputs_and_is_reproducible(tmp_path, tiny_st, mm_mentions, mm_kb):
    from xenc_toolkit.config import EncoderConfig, IndexConfig
    from xenc_toolkit.retrieval import DenseIndex

    index = DenseIndex.build(mm_kb, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig())
    train = [m for m in mm_mentions if m.split == "train"][:80]
    dev = [m for m in mm_mentions if m.split == "dev"][:40]
    cfg = MineConfig(candidates=CandidateConfig(n_candidates=8), seed=3)
    result = Miner(mm_kb, cfg, dense_index=index).mine({"train": train, "dev": dev})
    again = Miner(mm_kb, cfg, dense_index=index).mine({"train": train, "dev": dev})
    first, second = result.pairs["train"].to_dict(), again.pairs["train"].to_dict()
    assert np.allclose(first.pop("retrieval_score"), second.pop("retrieval_score"), equal_nan=True)
    assert first == second

    pairs = result.pairs["train"]
    assert set(pairs.column_names) >= {"query", "candidate", "label", "kind", "mention_id", "concept_id", "gold_id"}
    assert set(pairs["kind"]) <= {"positive", "hard", "type", "random"}
    # every positive is a gold concept, no negative is
    for concept, gold, label in zip(pairs["concept_id"], pairs["gold_id"], pairs["label"], strict=True):
        assert (concept == gold) == (label == 1.0)
    report = result.report["splits"]["dev"]
    assert set(report["recall"]) == {"dense", "tfidf", "fusion"}
    assert report["gold_not_in_kb"] == sum(1 for m in dev if mm_kb.resolve(m.gold_ids[0]) is None)

    lists = result.candidates["train"]
    for row in lists:
        if row["gold_in_kb"]:
            assert sum(row["labels"]) >= 1  # gold inserted into training lists when retrieval missed it
        assert len(row["candidate_ids"]) == len(row["candidate_texts"]) == len(row["labels"])
    dev_lists = result.candidates["dev"]
    assert not any(dev_lists["gold_inserted"])  # evaluation lists are never doctored

    save_mining(result, tmp_path / "pairs", config=cfg)
    assert load_pairs(tmp_path / "pairs")["train"].num_rows == pairs.num_rows
    assert load_candidate_lists(tmp_path / "pairs", "dev").num_rows == len(dev)
    examples = to_input_examples(pairs)
    assert len(examples) == pairs.num_rows
    assert examples[0].texts == [pairs[0]["query"], pairs[0]["candidate"]]


def test_mentions_without_kb_gold_produce_no_pairs_but_are_counted(synonym_kb):
    cfg = MineConfig(candidates=CandidateConfig(generator="tfidf", n_candidates=3))
    mentions = [
        Mention("m1", "d1", "heart attack", ("C1",)),
        Mention("m2", "d1", "gout", ("C999",)),
        Mention("m3", "d1", "pain", ()),
    ]
    result = Miner(synonym_kb, cfg).mine({"dev": mentions})
    report = result.report["splits"]["dev"]
    assert report["gold_not_in_kb"] == 1
    assert report["unlinkable"] == 1
    assert set(result.pairs["dev"]["mention_id"]) == {"m1"}
    assert result.candidates["dev"].num_rows == 3


def test_normalize_name_merges_spelling_variants():
    from xenc_toolkit.kb.normalize import normalize_name

    assert normalize_name("Non-Hodgkin's  Lymphoma") == normalize_name("non hodgkins lymphoma")
    assert normalize_name("Sjögren&apos;s syndrome") == normalize_name("sjogrens syndrome")
    assert normalize_name("Crohn\u2019s Disease") == normalize_name("crohns disease")
    assert normalize_name("HIV-1") == normalize_name("hiv 1") != normalize_name("hiv 2")
