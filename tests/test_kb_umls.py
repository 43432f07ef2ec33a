"""UMLS RRF loading on the tests/data/umls fixture (real layouts, real CUIs and names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from xenc_toolkit.errors import ConfigError, InputFormatError, MissingInputError, SkipReport
from xenc_toolkit.kb import load_umls, read_rrf
from xenc_toolkit.kb.rrf import CUI_CHECK, MRCONSO, MRSTY, NONEMPTY

META = Path(__file__).parent / "data" / "umls" / "META"


@pytest.fixture(scope="module")
def kb():
    return load_umls(META)


def names_of(kb, cui: str) -> list[str]:
    index = kb.resolve(cui)
    assert index is not None, cui
    return [kb.name_list[i] for i in kb.names_of(index)]


def preferred(kb, cui: str) -> str:
    return kb.preferred_names[kb.resolve(cui)]


# --------------------------------------------------------------------------- names and filters
def test_default_filters_keep_english_unsuppressed_concepts(kb):
    assert kb.n_concepts == 42
    assert kb.concept_ids == sorted(kb.concept_ids)  # concepts come sorted by CUI
    assert kb.resolve("C0999001") is None  # only Spanish/French names
    assert kb.resolve("C0000102") is None  # every row suppressed (O, Y)
    counts = kb.metadata["counts"]
    assert counts["mrconso_rows"] == 153
    assert counts["mrconso_rows_dropped"] == {"language": 12, "suppressed": 7}
    assert counts["mrconso_rows_kept"] == 153 - 12 - 7


def test_all_distinct_names_are_kept(kb):
    # five sources spell aspirin "Aspirin": one name; the suppressed SNOMED OF row and non-English rows are gone
    assert names_of(kb, "C0004057") == ["Aspirin", "Acetylsalicylic Acid", "Aspirin (substance)", "ASA"]
    # case variants are distinct names
    assert names_of(kb, "C0027051") == [
        "Myocardial Infarction",
        "Heart Attack",
        "Myocardial infarction",
        "Heart attack",
        "MI",
    ]
    assert kb.n_names == 111


def test_preferred_name_is_ts_p_stt_pf_ispref_y(kb):
    assert preferred(kb, "C0027051") == "Myocardial Infarction"
    assert preferred(kb, "C0020538") == "Hypertensive disease"  # MTH PN row, not the MSH heading
    for index in range(kb.n_concepts):
        assert kb.name_list[kb.names_of(index)[0]] == kb.preferred_names[index]  # preferred name first


def test_preferred_name_fallback_to_another_ts_p_row(kb):
    # the TS=P/STT=PF/ISPREF=Y row of C0000039 is editor-suppressed (E): the remaining TS=P row wins
    assert preferred(kb, "C0000039") == "1,2 Dipalmitoylphosphatidylcholine"
    assert "1,2-Dipalmitoylphosphatidylcholine" not in names_of(kb, "C0000039")


def test_preferred_name_fallback_to_first_row(kb):
    # the only TS=P row of C0000052 is obsolete (O): the first surviving row in file order wins
    assert preferred(kb, "C0000052") == "Branching enzyme"
    assert names_of(kb, "C0000052") == ["Branching enzyme", "Glycogen Branching Enzyme"]


def _one_concept_meta(tmp_path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """A META dir with one concept from (TS, STT, ISPREF, STR) rows."""
    meta = tmp_path / "META"
    meta.mkdir()
    lines = [
        f"C0000001|ENG|{ts}|L{i:07d}|{stt}|S{i:07d}|{ispref}|A{i:08d}|||D1|MSH|ET|D1|{name}|0|N||"
        for i, (ts, stt, ispref, name) in enumerate(rows, 1)
    ]
    (meta / "MRCONSO.RRF").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (meta / "MRSTY.RRF").write_text("C0000001|T047|B2.2.1.2.1|Disease or Syndrome|AT1|256|\n", encoding="utf-8")
    return meta


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("P", "PF", "N", "b"), ("P", "PF", "Y", "a")], ["a", "b"]),  # ISPREF=Y matters
        ([("P", "VO", "Y", "b"), ("P", "PF", "Y", "a")], ["a", "b"]),  # STT=PF matters
        ([("S", "PF", "Y", "b"), ("P", "VO", "N", "a")], ["a", "b"]),  # any TS=P beats TS=S
        ([("S", "PF", "Y", "b"), ("S", "PF", "Y", "a")], ["b", "a"]),  # then file order
        # a name ranks by its best row: "a" (rank 2 on line 1, rank 0 on line 3) comes after "b" (rank 0, line 2)
        ([("S", "PF", "Y", "a"), ("P", "PF", "Y", "b"), ("P", "PF", "Y", "a")], ["b", "a"]),
    ],
)
def test_preferred_name_rules(tmp_path, rows, expected):
    kb = load_umls(_one_concept_meta(tmp_path, rows), map_retired=False)
    assert kb.name_list == expected and kb.preferred_names == [expected[0]]


def test_source_filter_changes_preferred_name():
    kb = load_umls(META, sources=["MSH"])
    assert names_of(kb, "C0004057") == ["Aspirin", "Acetylsalicylic Acid"]
    assert preferred(kb, "C0020538") == "Hypertension"  # MSH row is TS=S: fallback to first row
    assert kb.resolve("C0006142") is None  # no MSH names
    assert kb.metadata["counts"]["mrconso_rows_dropped"]["source"] > 0


def test_exclude_sources_and_term_types():
    kb = load_umls(META, exclude_sources=["SNOMEDCT_US", "NCI"])
    assert names_of(kb, "C0004057") == ["Aspirin", "Acetylsalicylic Acid"]
    kb = load_umls(META, term_types=["MH"])
    assert names_of(kb, "C0004057") == ["Aspirin"]
    assert kb.resolve("C0020538") is not None and preferred(kb, "C0020538") == "Hypertension"


def test_all_languages_and_no_suppress_filter():
    kb = load_umls(META, languages=[], suppress=[])
    assert kb.n_concepts == 44
    assert "Acetylsalicylsäure" in names_of(kb, "C0004057")
    assert "Acetylsalicylic acid (substance)" in names_of(kb, "C0004057")
    assert "心筋梗塞" in names_of(kb, "C0027051")
    assert preferred(kb, "C0000039") == "1,2-Dipalmitoylphosphatidylcholine"  # not suppressed any more
    assert names_of(kb, "C0999001") == ["Enfermedad Ficticia", "Maladie fictive"]


def test_non_english_language():
    kb = load_umls(META, languages=["SPA"], map_retired=False)
    assert preferred(kb, "C0004057") == "Aspirina"
    assert set(kb.concept_ids) == {"C0001175", "C0004057", "C0011849", "C0027051", "C0999001"}


def test_release_directory_holding_meta():
    assert load_umls(META.parent).n_concepts == 42


# --------------------------------------------------------------------------- types and groups
def test_semantic_types_several_per_concept(kb):
    assert kb.types_of(kb.resolve("C0021641")) == ("T116", "T121", "T125")
    assert kb.types_of(kb.resolve("C0027051")) == ("T047",)
    assert kb.groups_of(kb.resolve("C0004057")) == ("CHEM",)
    assert kb.metadata["counts"]["mrsty_rows"] == 55
    assert kb.metadata["counts"]["mrsty_rows_for_other_concepts"] == 2  # C0000102 and C0999001


def test_unknown_tui_keeps_mrsty_name(kb):
    assert kb.types_of(kb.resolve("C0012634")) == ("T047", "T999")
    assert kb.metadata["type_names"] == {"T999": "Hypothetical Test Type"}
    assert kb.type_names_of(kb.resolve("C0012634")) == ["Disease or Syndrome", "Hypothetical Test Type"]


def test_semantic_group_and_type_filters():
    diso = load_umls(META, semantic_groups=["DISO"])
    network = diso.semantic_network
    assert diso.n_concepts == 26
    assert all("DISO" in network.groups_of(diso.types_of(i)) for i in range(diso.n_concepts))
    assert diso.resolve("C0004057") is None
    assert diso.metadata["counts"]["concepts_dropped_by_semantic_filter"] == 42 - 26
    anatomy = load_umls(META, semantic_types=["T023"])
    assert sorted(anatomy.concept_ids) == ["C0018787", "C0024109"]
    union = load_umls(META, semantic_types=["T023"], semantic_groups=["PROC"])
    assert sorted(union.concept_ids) == ["C0018787", "C0024109", "C0031809", "C0039985"]
    # names and aliases follow the kept concepts
    assert [union.name_list[i] for i in union.names_of(union.resolve("C0024109"))] == ["Lung", "Lung structure"]
    assert union.resolve("C0000013") == union.resolve("C0024109")


def test_bad_filter_values_are_config_errors():
    with pytest.raises(ConfigError, match="DISX"):
        load_umls(META, semantic_groups=["DISX"])
    with pytest.raises(ConfigError, match="047"):
        load_umls(META, semantic_types=["047"])
    with pytest.raises(ConfigError, match="SUPPRESS"):
        load_umls(META, suppress=["X"])


def test_filters_leaving_nothing_raise():
    with pytest.raises(InputFormatError, match="no names left"):
        load_umls(META, languages=["KLINGON"])


# --------------------------------------------------------------------------- definitions
def test_definitions_first_non_suppressed(kb):
    assert kb.concepts.column("definition").null_count == kb.n_concepts  # not loaded by default
    with_defs = load_umls(META, load_definitions=True)
    definition = with_defs.concepts.column("definition").to_pylist()
    assert definition[with_defs.resolve("C0004057")].startswith("The prototypical analgesic")  # the O row is skipped
    assert definition[with_defs.resolve("C0011849")].endswith("GLUCOSE INTOLERANCE.")  # first row wins
    assert definition[with_defs.resolve("C0000052")] is None
    assert with_defs.metadata["counts"]["definitions"] == 4


def test_definitions_honour_source_filters():
    kb = load_umls(META, load_definitions=True, exclude_sources=["MSH"])
    definition = kb.concepts.column("definition").to_pylist()
    assert definition[kb.resolve("C0004057")] == "An orally administered non-steroidal antiinflammatory agent."


def test_missing_mrdef_when_definitions_requested(tmp_path):
    meta = tmp_path / "META"
    shutil.copytree(META, meta)
    (meta / "MRDEF.RRF").unlink()
    assert load_umls(meta).n_concepts == 42
    with pytest.raises(MissingInputError, match="MRDEF.RRF"):
        load_umls(meta, load_definitions=True)


# --------------------------------------------------------------------------- retired CUIs
def test_retired_cuis_resolve_through_aliases(kb):
    assert kb.resolve("C0000001") == kb.resolve("C0004057")  # SY
    assert kb.resolve("C0000002") == kb.resolve("C0027051")  # SY -> SY (two steps)
    assert kb.resolve("C0000013") == kb.resolve("C0024109")  # two SY targets: the newest version wins
    assert kb.resolve("C0000006") is None  # DEL
    assert kb.resolve("C0000007") is None  # RB/RO only: not mapped automatically
    assert kb.resolve("C0000008") is None  # SY cycle
    assert kb.resolve("C0000010") is None  # merged into a concept without English names
    counts = kb.metadata["counts"]
    assert counts["retired_aliases"] == 5
    assert counts["mrcui_rows_by_rel"] == {"SY": 10, "DEL": 2, "RB": 1, "RN": 1, "RO": 1}


def test_map_retired_off_and_missing_mrcui(tmp_path):
    assert load_umls(META, map_retired=False).aliases.num_rows == 0
    meta = tmp_path / "META"
    shutil.copytree(META, meta)
    (meta / "MRCUI.RRF").unlink()
    kb = load_umls(meta)
    assert kb.aliases.num_rows == 0 and kb.metadata["counts"]["mrcui"] == "absent"


def test_missing_required_files(tmp_path):
    with pytest.raises(MissingInputError, match="META directory"):
        load_umls(tmp_path / "nowhere")
    for name in ("MRCONSO.RRF", "MRSTY.RRF"):
        meta = tmp_path / name / "META"
        shutil.copytree(META, meta)
        (meta / name).unlink()
        with pytest.raises(MissingInputError, match=name):
            load_umls(meta)


# --------------------------------------------------------------------------- robustness
def test_crlf_line_ends_give_the_same_kb(tmp_path, kb):
    meta = tmp_path / "META"
    meta.mkdir()
    for path in META.iterdir():
        (meta / path.name).write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    crlf = load_umls(meta)
    assert crlf.concept_ids == kb.concept_ids
    assert crlf.name_list == kb.name_list
    assert crlf.checksum == kb.checksum


def test_last_line_without_newline_is_fine(tmp_path, kb):
    meta = tmp_path / "META"
    shutil.copytree(META, meta)
    path = meta / "MRCONSO.RRF"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert load_umls(meta).name_list == kb.name_list


def test_loading_is_deterministic(kb):
    again = load_umls(META)
    assert again.checksum == kb.checksum
    assert again.aliases.to_pylist() == kb.aliases.to_pylist()


def _big_rrf(path: Path, n: int, bad_line: int | None = None, bad: str = "") -> None:
    rows = [f"C{i:07d}|T047|B2.2.1.2.1|Disease or Syndrome|AT{i}|256|" for i in range(1, n + 1)]
    if bad_line is not None:
        rows[bad_line - 1] = bad
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("C0004000|T047|B2|Disease|AT1|", "5 of 6 fields"),  # structural: the Arrow block fails, the line scan finds it
        ("C0004000|T047|B2|Disease|AT1|256|\udcff", "too many fields"),
        ("X0004000|T047|B2.2.1.2.1|Disease or Syndrome|AT4000|256|", "CUI 'X0004000'"),  # a value check
    ],
)
def test_line_numbers_are_exact_in_later_blocks(tmp_path, bad, problem):
    path = tmp_path / "MRSTY.RRF"
    _big_rrf(path, 5000, 4000, bad.replace("\udcff", "x"))
    checks = {"CUI": CUI_CHECK, "STY": NONEMPTY}
    with pytest.raises(InputFormatError) as error:
        list(read_rrf(path, MRSTY, ["CUI"], checks, block_size=4096))
    assert error.value.line == 4000 and problem in str(error.value) and "MRSTY.RRF:4000" in str(error.value)
    report = SkipReport(lenient=True)
    lines = np.concatenate([lines for _, lines in read_rrf(path, MRSTY, ["CUI"], checks, report, block_size=4096)])
    assert report.total == 1 and len(lines) == 4999 and 4000 not in lines
    assert np.array_equal(lines, np.r_[1:4000, 4001:5001])


def test_read_rrf_rejects_unknown_columns(tmp_path):
    with pytest.raises(ValueError, match="STR"):
        list(read_rrf(META / "MRSTY.RRF", MRSTY, ["STR"], {}))
    assert MRCONSO.expected.startswith("18 fields")
