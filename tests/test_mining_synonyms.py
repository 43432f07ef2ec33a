"""Synonym queries: dictionary names as extra training lists, each mined without its own name."""

from __future__ import annotations

import pytest

from xenc_toolkit.config import CandidateConfig, MineConfig
from xenc_toolkit.corpora.mention import Mention
from xenc_toolkit.errors import XencError
from xenc_toolkit.kb import load_medic
from xenc_toolkit.kb.from_corpus import add_mention_names
from xenc_toolkit.kb.normalize import normalize_name
from xenc_toolkit.mining.pairs import Miner
from xenc_toolkit.mining.synonyms import (
    merge_training_results,
    mine_synonym_queries,
    synonym_queries,
    without_query_names,
)


@pytest.fixture(scope="module")
def medic(shared_data):
    """The first 400 MEDIC concepts: real names, real synonym counts (many single-name concepts)."""
    return load_medic(shared_data / "medic" / "medic_06Jul2012.txt").subset(range(400))


def _keys(kb, concept: int) -> set[str]:
    return {normalize_name(kb.name_list[r]) for r in kb.names_of(concept)}


def _cfg() -> MineConfig:
    return MineConfig(candidates=CandidateConfig(generator="tfidf", n_candidates=8), seed=5)


def test_queries_are_names_of_concepts_that_keep_another_name(medic):
    queries = synonym_queries(medic, per_concept=2, seed=0)
    per_concept: dict[str, list[str]] = {}
    for q in queries:
        per_concept.setdefault(q.gold_ids[0], []).append(normalize_name(q.text))
    single = [c for c in range(medic.n_concepts) if len(_keys(medic, c)) == 1]
    assert single and not {medic.concept_ids[c] for c in single} & set(per_concept)  # one-name concepts: none
    for cid, keys in per_concept.items():
        concept = medic.resolve(cid)
        assert set(keys) <= _keys(medic, concept)
        assert len(set(keys)) == len(keys) <= 2
        assert len(keys) < len(_keys(medic, concept))  # at least one other name stays
    multi = [c for c in range(medic.n_concepts) if len(_keys(medic, c)) >= 2]
    assert len(per_concept) == len(multi)
    assert [q.text for q in synonym_queries(medic, per_concept=2, seed=0)] == [q.text for q in queries]
    assert [q.text for q in synonym_queries(medic, per_concept=2, seed=1)] != [q.text for q in queries]
    assert len(synonym_queries(medic, per_concept=1, max_queries=50, seed=0)) == 50
    with pytest.raises(XencError, match="per_concept"):
        synonym_queries(medic, per_concept=0)


def test_strings_added_by_training_mentions_are_not_queries_by_default(medic):
    concept = next(c for c in range(medic.n_concepts) if len(_keys(medic, c)) == 1)
    cid = medic.concept_ids[concept]
    mention = Mention(mention_id="d1:0-9", doc_id="d1", text="zz unseen variant", gold_ids=(cid,), split="train")
    kb, added = add_mention_names(medic, [mention])
    assert added == 1
    # the concept now has two names, but only the dictionary one may be drawn
    drawn = [q for q in synonym_queries(kb, per_concept=3, seed=0) if q.gold_ids == (cid,)]
    assert [q.text for q in drawn] == [medic.name_list[medic.names_of(concept)[0]]]
    every = [q.text for q in synonym_queries(kb, per_concept=3, seed=0, dictionary_only=False) if q.gold_ids == (cid,)]
    assert len(every) == 1 and every[0] in {"zz unseen variant", drawn[0].text}


def test_without_query_names_drops_every_spelling_under_the_gold_only(medic):
    queries = synonym_queries(medic, per_concept=1, seed=0)[:30]
    reduced = without_query_names(medic, queries)
    assert reduced.concept_ids == medic.concept_ids  # indices unchanged
    for q in queries:
        concept = medic.resolve(q.gold_ids[0])
        key = normalize_name(q.text)
        assert key not in _keys(reduced, concept)
        assert _keys(reduced, concept) == _keys(medic, concept) - {key}
    dropped = medic.n_names - reduced.n_names
    assert dropped >= len(queries) and reduced.metadata["synonym_queries_removed"] == dropped
    # a query string under another concept stays there
    others = {
        (normalize_name(medic.name_list[r]), int(medic.name_concept[r]))
        for r in range(medic.n_names)
        if int(medic.name_concept[r]) not in {medic.resolve(q.gold_ids[0]) for q in queries}
    }
    kept = {(normalize_name(reduced.name_list[r]), int(reduced.name_concept[r])) for r in range(reduced.n_names)}
    assert others <= kept
    bad = Mention(mention_id="x", doc_id="x", text="y", gold_ids=("MESH:NOPE",))
    with pytest.raises(XencError, match="not in the KB"):
        without_query_names(medic, [bad])


def test_synonym_lists_never_find_the_gold_through_the_query_string(medic, mm_mentions):
    queries = synonym_queries(medic, per_concept=1, seed=0)
    built = []
    result = mine_synonym_queries(medic, lambda kb, tag: built.append(tag), queries, _cfg(), n_folds=3)
    assert built == ["synonyms0", "synonyms1", "synonyms2"]
    lists = result.candidates["train"]
    assert len(lists) == len(queries) == result.report["synonym_queries"]["queries"]
    found = 0
    for row in lists:
        query_key = normalize_name(row["mention"])
        for cid, name, label in zip(row["candidate_ids"], row["candidate_names"], row["labels"], strict=True):
            if cid in row["gold_ids"]:
                assert normalize_name(name) != query_key  # reached through another synonym
                found += label == 1
    # many synonyms share words: the gold is still retrieved for a good share of the queries
    assert 0.2 < result.report["splits"]["train"]["recall"]["tfidf"]["recall@8"] < 1.0
    assert found > 0

    train = [m for m in mm_mentions if m.split == "train"][:40]
    dev = [m for m in mm_mentions if m.split == "dev"][:20]
    from xenc_toolkit.kb.from_corpus import kb_from_mentions

    plain = Miner(kb_from_mentions(train), _cfg()).mine({"train": train, "dev": dev})
    merged = merge_training_results(plain, result)
    assert len(merged.candidates["train"]) == len(plain.candidates["train"]) + len(lists)
    assert len(merged.pairs["train"]) == len(plain.pairs["train"]) + len(result.pairs["train"])
    assert len(merged.candidates["dev"]) == len(plain.candidates["dev"])  # evaluation untouched
    assert merged.report["splits"]["train"]["mentions"] == len(train)
    assert merged.report["splits"]["train"]["synonym_queries"]["queries"] == len(queries)
