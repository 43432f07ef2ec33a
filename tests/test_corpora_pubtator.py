"""PubTator reader/writer on real-shaped fixtures (MedMentions, NCBI-disease, BC5CDR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenc_toolkit.corpora import (
    Document,
    Mention,
    iter_pubtator_mentions,
    parse_concept_ids,
    read_pubtator,
    write_pubtator,
)
from xenc_toolkit.errors import InputFormatError, SkipReport

DATA = Path(__file__).parent / "data" / "corpora"
MEDMENTIONS = DATA / "medmentions_sample.pubtator"
NCBI = DATA / "ncbi_sample.txt"
BC5CDR = DATA / "bc5cdr_sample.txt"


def _all(documents: list[Document]) -> list[Mention]:
    return [m for doc in documents for m in doc.mentions]


def test_medmentions_documents_and_mentions():
    report = SkipReport()
    docs = read_pubtator(MEDMENTIONS, report=report)
    assert [d.pmid for d in docs] == ["25763772", "26316050"]
    first = docs[0]
    assert first.title.startswith("DCTN4 as a modifier")
    assert first.text == f"{first.title} {first.abstract}"
    assert first.source == f"{MEDMENTIONS}:1"
    m = first.mentions[0]
    assert (m.mention_id, m.doc_id, m.text, m.start, m.end) == ("25763772:0-5", "25763772", "DCTN4", 0, 5)
    assert m.gold_ids == ("C4308010",)
    assert m.types == ("T116", "T123")  # comma-separated TUIs
    assert m.source == f"{MEDMENTIONS}:3"
    for mention in _all(docs):
        doc = docs[0] if mention.doc_id == "25763772" else docs[1]
        assert doc.text[mention.start : mention.end] == mention.text
    # the repeated annotation line (783-790 "filling") is read once and counted
    assert report.notes == {"duplicate annotation (identical line dropped)": 1}
    assert len(docs[1].mentions) == 71
    assert sum(1 for m in docs[1].mentions if m.mention_id == "26316050:783-790") == 1


def test_duplicate_annotation_can_be_kept():
    docs = read_pubtator(MEDMENTIONS, duplicate_annotations="keep")
    ids = [m.mention_id for m in docs[1].mentions]
    assert len(docs[1].mentions) == 72
    assert "26316050:783-790" in ids and "26316050:783-790#2" in ids
    assert len(set(ids)) == len(ids)


def test_context_in_words_and_chars():
    doc = read_pubtator(MEDMENTIONS, context_window=3)[0]
    cf = next(m for m in doc.mentions if m.mention_id == "25763772:67-82")
    assert cf.text == "cystic fibrosis"
    assert cf.left_context == "aeruginosa infection in"
    assert cf.right_context == "Pseudomonas aeruginosa (Pa)"  # runs from the title into the abstract
    doc = read_pubtator(MEDMENTIONS, context_window=20, context_unit="chars")[0]
    cf = next(m for m in doc.mentions if m.mention_id == "25763772:67-82")
    # about 20 characters, cut at a word boundary
    assert (cf.left_context, cf.right_context) == ("infection in", "Pseudomonas")
    none = read_pubtator(MEDMENTIONS, context_window=0)[0].mentions[5]
    assert none.left_context == none.right_context == ""


def test_bad_context_unit():
    with pytest.raises(ValueError, match="context_unit"):
        read_pubtator(MEDMENTIONS, context_unit="tokens")


def test_umls_prefix_is_stripped_on_request(tmp_path):
    prefixed = tmp_path / "st21pv.txt"
    lines = []
    for line in MEDMENTIONS.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) == 6:
            cols[5] = "UMLS:" + cols[5]
        lines.append("\t".join(cols))
    prefixed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kept = read_pubtator(prefixed)[0].mentions[0]
    assert kept.gold_ids == ("UMLS:C4308010",)
    stripped = read_pubtator(prefixed, id_prefix="UMLS:")[0].mentions[0]
    assert stripped.gold_ids == ("C4308010",)


def test_ncbi_composites_omim_whitespace_and_duplicate_document():
    report = SkipReport()
    docs = read_pubtator(NCBI, report=report)
    # PMID 8808605 is repeated verbatim at the end of the file: read once, counted
    assert [d.pmid for d in docs] == ["8808605", "8931701", "8621452", "8640236", "10923035"]
    assert report.notes == {"duplicate document (identical copy read once)": 1}
    assert f"{NCBI}:72" in report.note_examples["duplicate document (identical copy read once)"][0]
    mentions = {m.mention_id: m for m in _all(docs)}
    assert len(mentions) == 55
    assert mentions["8808605:154-171"].gold_ids == ("D008661",)  # id column " D008661"
    assert mentions["8808605:154-171"].types == ("DiseaseClass",)
    plus = [m for m in mentions.values() if m.doc_id == "8931701" and len(m.gold_ids) > 1]
    assert plus and plus[0].gold_ids == ("D007153", "D040181")
    pipe = [m for m in mentions.values() if m.doc_id == "8640236" and len(m.gold_ids) > 1]
    assert pipe and pipe[0].gold_ids == ("D001943", "D010051")
    assert {g for m in mentions.values() if m.doc_id == "8621452" for g in m.gold_ids} == {"OMIM:217000"}
    # mention column with two trailing spaces: offsets verify against the stripped text
    gefs = mentions["10923035:711-761"]
    assert gefs.text == 'generalized epilepsy and febrile seizures " plus "'
    assert gefs.gold_ids == ("D004829", "D003294")


def test_ncbi_omim_prefix_stripped_for_medic():
    docs = read_pubtator(NCBI, id_prefix="OMIM:")
    assert {g for d in docs if d.pmid == "8621452" for m in d.mentions for g in m.gold_ids} == {"217000"}


def test_bc5cdr_unlinkable_composite_relations_and_mesh_prefix():
    report = SkipReport()
    docs = read_pubtator(BC5CDR, id_prefix="MESH:", report=report)
    first, second = docs
    unlinkable = [m for m in first.mentions if not m.is_linkable]
    assert [m.text for m in unlinkable] == ["XYZ-9"]
    assert unlinkable[0].gold_ids == ()
    composite = next(m for m in first.mentions if len(m.gold_ids) == 2)
    assert composite.text == "renal or hepatic toxicity"
    assert composite.gold_ids == ("D007674", "D056486")
    assert composite.extra["composite_parts"] == ["renal toxicity", "hepatic toxicity"]
    assert first.relations == [("CID", "D008094", "D018500")]
    assert second.relations == [("CID", "MESH:D003042", "MESH:D009203")]
    assert {m.gold_ids for m in second.mentions} == {("D003042",), ("D009203",)}
    assert {m.types for m in _all(docs)} == {("Chemical",), ("Disease",)}
    assert report.notes == {"relation line (kept in Document.relations, not a mention)": 2}


def test_iter_mentions_streams_the_same_mentions():
    streamed = list(iter_pubtator_mentions(BC5CDR))
    assert [m.mention_id for m in streamed] == [m.mention_id for m in _all(read_pubtator(BC5CDR))]


@pytest.mark.parametrize("fixture", [MEDMENTIONS, NCBI, BC5CDR])
def test_write_then_read_round_trip(tmp_path, fixture):
    docs = read_pubtator(fixture)
    out = write_pubtator(docs, tmp_path / "out.txt")
    again = read_pubtator(out)
    assert [(d.pmid, d.title, d.abstract, d.relations) for d in again] == [
        (d.pmid, d.title, d.abstract, d.relations) for d in docs
    ]
    strip = lambda m: (m.mention_id, m.text, m.gold_ids, m.types, m.left_context, m.right_context, m.extra)  # noqa: E731
    assert [strip(m) for m in _all(again)] == [strip(m) for m in _all(docs)]


def test_crlf_and_bom_are_accepted(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"\xef\xbb\xbf" + BC5CDR.read_bytes().replace(b"\n", b"\r\n"))
    docs = read_pubtator(path)
    assert [len(d.mentions) for d in docs] == [9, 4]
    assert docs[0].pmid == "227508"


def test_parse_concept_ids():
    assert parse_concept_ids("D001|D002", "f", 1) == ("D001", "D002")
    assert parse_concept_ids("OMIM:1+D2", "f", 1, ("MESH:", "OMIM:")) == ("1", "D2")
    assert parse_concept_ids(" -1 ", "f", 1) == ()
    assert parse_concept_ids("D1|D1", "f", 1) == ("D1",)
    for bad in ("", "D1|", "D1 D2", "D1|-1"):
        with pytest.raises(InputFormatError, match="f:7"):
            parse_concept_ids(bad, "f", 7)


def test_title_only_document_is_accepted(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1|t|Only a title\n\n2|t|Another\n2|a|abstract\n2\t8\t16\tabstract\tX\tC1\n", encoding="utf-8")
    docs = read_pubtator(path)
    assert [(d.pmid, d.abstract, len(d.mentions)) for d in docs] == [("1", "", 0), ("2", "abstract", 1)]


def test_documents_without_blank_line_between_them(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1|t|A\n1|a|b\n1\t0\t1\tA\tX\tC1\n2|t|C\n2|a|d\n2\t2\t3\td\tX\tC2\n", encoding="utf-8")
    assert [[m.text for m in d.mentions] for d in read_pubtator(path)] == [["A"], ["d"]]


def test_same_span_with_different_ids_keeps_both(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1|t|Heart attack\n1|a|x\n1\t0\t12\tHeart attack\tT047\tC1\n1\t0\t12\tHeart attack\tT047\tC2\n")
    mentions = read_pubtator(path)[0].mentions
    assert [(m.mention_id, m.gold_ids) for m in mentions] == [("1:0-12", ("C1",)), ("1:0-12#2", ("C2",))]


def test_conflicting_duplicate_pmid_is_an_error(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1|t|A\n1|a|b\n\n1|t|A different title\n1|a|b\n")
    with pytest.raises(InputFormatError, match=r"t\.txt:4: PMID 1 appears again .*first at line 1"):
        read_pubtator(path)
    report = SkipReport(lenient=True)
    docs = read_pubtator(path, report=report)
    assert [d.title for d in docs] == ["A"]
    assert report.counts == {"conflicting duplicate PMID": 1}


def test_unknown_type_placeholder_means_no_type(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1|t|district nurses\n1|a|x\n1\t0\t8\tdistrict\tUnknownType\tC0681784\n", encoding="utf-8")
    assert read_pubtator(path)[0].mentions[0].types == ()
