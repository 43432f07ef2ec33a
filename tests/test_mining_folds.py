"""Cross-fitted mining: training lists come from a KB without the fold's own strings."""

from __future__ import annotations

import pytest

from xenc_toolkit.config import CandidateConfig, MineConfig
from xenc_toolkit.errors import XencError
from xenc_toolkit.kb.from_corpus import kb_from_mentions
from xenc_toolkit.mining.folds import document_folds, kb_without_mentions, mine_cross_fitted
from xenc_toolkit.mining.pairs import Miner


@pytest.fixture(scope="module")
def splits(mm_mentions):
    return [m for m in mm_mentions if m.split == "train"], [m for m in mm_mentions if m.split == "dev"]


def _cfg() -> MineConfig:
    return MineConfig(candidates=CandidateConfig(generator="tfidf", n_candidates=8), seed=3)


def test_document_folds_hold_whole_documents_once(splits):
    train, _ = splits
    folds = document_folds(train, 3, seed=1)
    assert sorted(m.mention_id for f in folds for m in f) == sorted(m.mention_id for m in train)
    docs = [{m.doc_id for m in f} for f in folds]
    assert all(a.isdisjoint(b) for i, a in enumerate(docs) for b in docs[i + 1 :])
    assert all(folds)
    assert [[m.mention_id for m in f] for f in document_folds(train, 3, seed=1)] == [
        [m.mention_id for m in f] for f in folds
    ]
    assert [m.mention_id for m in document_folds(train, 3, seed=2)[0]] != [m.mention_id for m in folds[0]]
    with pytest.raises(XencError, match="at least 2 folds"):
        document_folds(train, 1)
    with pytest.raises(XencError, match="cannot fill"):
        document_folds(train[:1], 2)


def test_training_lists_are_mined_without_the_folds_own_strings(splits):
    train, dev = splits
    seen = []

    def build_kb(mentions):
        seen.append({m.mention_id for m in mentions})
        return kb_from_mentions(mentions)

    result, kb, index = mine_cross_fitted(build_kb, None, train, {"dev": dev}, _cfg(), n_folds=3)
    assert index is None
    dev_ids = {m.mention_id for m in dev}
    assert all(s.isdisjoint(dev_ids) for s in seen)  # evaluation mentions never reach a KB
    folds = document_folds(train, 3, seed=3)
    for f in range(len(folds)):  # each fold's KB lacks exactly that fold
        assert seen[f] == {m.mention_id for g, other in enumerate(folds) if g != f for m in other}
    assert seen[-1] == {m.mention_id for m in train}

    plain = Miner(kb_from_mentions(train), _cfg()).mine({"train": train, "dev": dev})
    report = result.report["splits"]["train"]
    assert report["mentions"] == len(train) == len(result.candidates["train"])
    # against the full KB every single-gold training concept is present; cross-fitted, some are not
    assert plain.report["splits"]["train"]["gold_not_in_kb"] < report["gold_not_in_kb"]
    assert report["recall"]["tfidf"]["recall@1"] < plain.report["splits"]["train"]["recall"]["tfidf"]["recall@1"]
    assert len(report["folds"]) == 3 and sum(r["mentions"] for r in report["folds"]) == len(train)
    assert report["pairs_total"] == len(result.pairs["train"])
    # the evaluation split is mined exactly as before, against the KB of all training mentions
    assert result.candidates["dev"].to_dict() == plain.candidates["dev"].to_dict()
    assert result.report["cross_fitted"]["folds"] == 3
    assert set(result.pairs["train"]["mention_id"]) <= {m.mention_id for m in train}


def test_a_gold_whose_names_the_fold_alone_carried_is_not_in_the_kb(splits):
    """``xenc mine --cross-fit-folds`` on a KB built from the corpus: kb_without_mentions keeps every concept, and
    one that only the fold's own mentions named is left without names; its mentions are mined as if the concept
    were absent, as against the KB built from the other folds."""
    train, _ = splits
    fold, *others = document_folds(train, 3, seed=3)
    rest = [m for other in others for m in other]
    reduced = kb_without_mentions(kb_from_mentions(train), fold)
    nameless = set(range(reduced.n_concepts)) - set(reduced.name_concept.tolist())
    assert nameless  # a real case: some gold concepts are named by this fold's mentions only
    result = Miner(reduced, _cfg()).mine({"train": fold})
    rebuilt = Miner(kb_from_mentions(rest), _cfg()).mine({"train": fold})
    report = result.report["splits"]["train"]
    assert report["gold_not_in_kb"] == rebuilt.report["splits"]["train"]["gold_not_in_kb"] > 0
    nameless_ids = {reduced.concept_ids[c] for c in nameless}
    positives = result.pairs["train"].filter(lambda row: row["label"] == 1)
    assert len(positives) and not nameless_ids & set(positives["concept_id"])
