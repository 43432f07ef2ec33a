"""Retired CUIs (MRCUI.RRF): transitive SY mapping, deletions, related CUIs, id mapping reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenc_toolkit.kb import ConceptRecord, KnowledgeBase, RetiredCuiMap, load_mrcui, load_umls, map_ids

META = Path(__file__).parent / "data" / "umls" / "META"


@pytest.fixture(scope="module")
def kb():
    return load_umls(META)


@pytest.fixture(scope="module")
def history():
    return load_mrcui(META / "MRCUI.RRF")


def test_load_mrcui_counts(history):
    assert len(history) == 13
    assert history.counts == {"SY": 10, "DEL": 2, "RB": 1, "RN": 1, "RO": 1}
    assert "C0000006" in history and "C0004057" not in history
    assert history.is_deleted("C0000006") and not history.is_deleted("C0000001")
    assert history.related("C0000007") == [("RB", "C0011849"), ("RO", "C0020538")]
    assert history.merged_into("C0000013") == ["C0024109", "C0018787"]  # newest version first


def test_resolve_without_kb_means_not_retired(history):
    assert history.resolve("C0000001") == "C0004057"
    assert history.resolve("C0000002") == "C0027051"  # C0000002 -> C0000003 -> C0027051
    assert history.resolve("C0000010") == "C0999001"  # current in the release, whatever a KB keeps
    assert history.resolve("C0004057") == "C0004057"  # not retired: itself
    assert history.resolve("C0000006") is None
    assert history.resolve("C0000008") is None  # cycle C0000008 <-> C0000009
    assert history.resolve("not a CUI") is None


def test_resolve_against_a_kb(history, kb):
    assert history.resolve("C0000010", kb) is None  # its target has no English name
    assert history.resolve_many(["C0000001", "C0000013", "C0000012"], kb) == ["C0004057", "C0024109", "C0011849"]
    assert history.resolve("C0000002", ["C0000003"]) == "C0000003"  # any container of current CUIs


def test_status(history, kb):
    assert history.status("C0004057", kb) == "current"
    assert history.status("C0000001", kb) == "mapped"
    assert history.status("C0000006", kb) == "deleted"
    assert history.status("C0000011", kb) == "deleted"  # merged into a deleted CUI
    assert history.status("C0000007", kb) == "related"
    assert history.status("C0000008", kb) == "missing"
    assert history.status("C0000010", kb) == "missing"


def test_chains_cycles_and_ties():
    history = RetiredCuiMap.from_rows(
        [
            ("C0000001", "2010AA", "SY", "C0000002"),
            ("C0000002", "2011AA", "SY", "C0000003"),
            ("C0000003", "2012AA", "SY", "C0000004"),
            ("C0000004", "2013AA", "SY", "C0000001"),  # a 4-cycle...
            ("C0000003", "2012AA", "SY", "C0000100"),  # ...with an exit
            ("C0000005", "2015AA", "SY", "C0000200"),
            ("C0000005", "2019AB", "SY", "C0000300"),
            ("C0000006", "2015AA", "SY", "C0000007"),
            ("C0000006", "2015AA", "SY", "C0000400"),
            ("C0000007", "2016AA", "SY", "C0000500"),
            ("C0000008", "2016AA", "SY", "C0000008"),  # self loop
            ("C0000009", "2016AA", "DEL", ""),
        ]
    )
    assert history.resolve("C0000001") == "C0000100"  # three steps, through the cycle
    assert history.resolve("C0000004") == "C0000100"
    assert history.resolve("C0000005") == "C0000300"  # newest version wins
    assert history.resolve("C0000006") == "C0000400"  # shortest chain wins over C0000007 -> C0000500
    assert history.resolve("C0000006", ["C0000500"]) == "C0000500"
    assert history.resolve("C0000008") is None
    assert history.resolve("C0000001", ["C0000042"]) is None  # the cycle ends the walk
    assert history.resolve_many(["C0000009", "C0000002"]) == [None, "C0000100"]


def test_map_ids_with_kb(history, kb):
    ids = ["C0004057", "C0000001", "C0000001", "C0000002", "C0000006", "C0000011", "C0000007", "C0000008", "C9999999"]
    mapped, report = map_ids(ids, kb, retired=history)
    assert mapped == ["C0004057", "C0004057", "C0004057", "C0027051", None, None, None, None, None]
    assert (report.unchanged, report.mapped, report.deleted, report.related, report.missing) == (1, 3, 2, 1, 2)
    assert report.total == len(ids) and report.dropped == 5
    assert report.distinct == {"unchanged": 1, "mapped": 2, "deleted": 2, "related": 1, "missing": 2}
    assert report.mapping == {"C0000001": "C0004057", "C0000002": "C0027051"}
    assert report.suggestions == {"C0000007": [("RB", "C0011849"), ("RO", "C0020538")]}
    assert report.examples["missing"] == ["C0000008", "C9999999"]
    data = report.to_dict()
    assert data["dropped"] == 5 and data["distinct"]["mapped"] == 2
    assert report.summary_lines()[0] == "ids: 9 (8 distinct)"


def test_map_ids_kb_only_uses_aliases(kb):
    mapped, report = map_ids(["C0000001", "C0000006", "C0027051"], kb)
    assert mapped == ["C0004057", None, "C0027051"]
    assert (report.mapped, report.missing, report.unchanged) == (1, 1, 1)


def test_map_ids_with_history_only(history):
    mapped, report = map_ids(["C0000010", "C0011849", "C0000015", "C0000014"], history)
    assert mapped == ["C0999001", "C0011849", None, None]
    assert (report.mapped, report.unchanged, report.deleted, report.related) == (1, 1, 1, 1)


def test_map_ids_on_a_dictionary_kb():
    kb = KnowledgeBase.from_records([ConceptRecord("D003920", ["Diabetes Mellitus"], alt_ids=["MESH:D003920"])])
    mapped, report = map_ids(["MESH:D003920", "D003920", "D000000"], kb)
    assert mapped == ["D003920", "D003920", None]
    assert (report.mapped, report.unchanged, report.missing) == (1, 1, 1)


def test_alias_table_only_for_concepts_outside_the_kb(history):
    import numpy as np

    table = history.alias_table(np.asarray([4057, 3]))  # C0000003 is "current" here
    rows = dict(zip(table.column("alias_id").to_pylist(), table.column("concept_index").to_pylist(), strict=True))
    assert rows == {"C0000001": 0, "C0000002": 1}
