"""Corpus statistics and their rich rendering."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from xenc_toolkit.corpora import Mention, read_pubtator
from xenc_toolkit.evaluation import corpus_stats, render_stats
from xenc_toolkit.kb.model import ConceptRecord, KnowledgeBase

DATA = Path(__file__).parent / "data" / "corpora"


def _mentions() -> list[Mention]:
    return [
        Mention("d1:1", "d1", "heart attack", ("C0027051",), ("T047",), split="train"),
        Mention("d1:2", "d1", "MI", ("C0027051",), ("T047",), split="train"),
        Mention("d1:3", "d1", "aspirin", ("C0004057",), ("T109", "T121"), split="train"),
        Mention("d2:1", "d2", "renal or hepatic toxicity", ("C1", "C2"), ("T047",), split="dev"),
        Mention("d2:2", "d2", "XYZ-9", (), ("T109",), split="dev"),
        Mention("d2:3", "d2", "infarct", ("C0027051",), ("T047",), split="dev"),
        Mention("d3:1", "d3", "old id", ("C_RETIRED",), (), split=None),
        Mention("d3:2", "d3", "omim", ("OMIM:217000",), (), split=None),
    ]


def _kb() -> KnowledgeBase:
    return KnowledgeBase.from_records(
        [
            ConceptRecord("C0027051", ["myocardial infarction"], types=["T047"], alt_ids=["C_RETIRED"]),
            ConceptRecord("C0004057", ["aspirin"], types=["T109", "T121"]),
            ConceptRecord("C1", ["renal toxicity"], types=["T047"]),
        ]
    )


def test_corpus_counts_and_splits():
    stats = corpus_stats(_mentions())
    assert (stats["documents"], stats["mentions"], stats["concepts"]) == (3, 8, 6)
    assert stats["unlinkable_mentions"] == 1 and stats["composite_mentions"] == 1
    assert stats["id_prefixes"] == {"OMIM": 1}
    assert list(stats["splits"]) == ["train", "dev", "(none)"]
    assert stats["splits"]["dev"] == {
        "documents": 1,
        "mentions": 3,
        "concepts": 3,
        "unlinkable_mentions": 1,
        "composite_mentions": 1,
    }
    # dev: 2 linkable mentions, the composite one has ids never seen in train
    assert stats["unseen_in_train"] == {
        "dev": {"mentions": 1, "mention_share": 0.5, "concepts": 2, "concept_share": 0.6667}
    }
    json.dumps(stats)  # JSON-ready


def test_semantic_types():
    types = corpus_stats(_mentions())["types"]
    assert types["untyped_mentions"] == 2
    top = {row[0]: row for row in types["top_types"]}
    assert top["T047"] == ["T047", "Disease or Syndrome", 4, 3]
    assert top["T109"][2:] == [2, 1]  # 2 mentions, 1 concept (the unlinkable mention has none)
    groups = dict((g, n) for g, _, n in types["groups"])
    assert groups["DISO"] == 4 and groups["CHEM"] == 2


def test_kb_coverage_aliases_and_missing_ids():
    kb_stats = corpus_stats(_mentions(), kb=_kb())["kb"]
    assert kb_stats["linkable_mentions"] == 7
    # covered: 3 x C0027051, aspirin, C_RETIRED via its alias; not: composite (C2 missing), OMIM id
    assert kb_stats["mentions_covered"] == 5
    assert kb_stats["mention_coverage"] == round(5 / 7, 4)
    assert (kb_stats["gold_concepts"], kb_stats["concepts_covered"]) == (6, 4)
    assert kb_stats["mapped_ids"] == 1 and kb_stats["mapped_examples"] == [["C_RETIRED", "C0027051"]]
    assert kb_stats["mapped_mentions"] == 1
    assert kb_stats["unmapped_ids"] == 2 and kb_stats["unmapped_mentions"] == 2
    assert sorted(cid for cid, _ in kb_stats["unmapped_examples"]) == ["C2", "OMIM:217000"]


def test_render_stats_tables():
    tables = render_stats(corpus_stats(_mentions(), kb=_kb()))
    assert [t.title for t in tables][:3] == ["Corpus", "Splits", "Top semantic types (3 in all)"]
    console = Console(record=True, width=140)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert "Knowledge-base coverage (3 concepts)" in text
    assert "5 / 7 (71.4%)" in text
    assert "Disease or Syndrome" in text
    assert "1 (50.0%)" in text  # unseen in train, dev


def test_stats_of_a_real_shaped_corpus_without_kb():
    mentions = [m for d in read_pubtator(DATA / "bc5cdr_sample.txt", id_prefix="MESH:") for m in d.mentions]
    stats = corpus_stats(mentions)
    assert stats["splits"] == {"(none)": {k: stats[k] for k in stats["splits"]["(none)"]}}
    assert stats["unseen_in_train"] == {}
    assert stats["types"]["groups"] == []  # entity classes, not TUIs
    assert len(render_stats(stats)) == 3
