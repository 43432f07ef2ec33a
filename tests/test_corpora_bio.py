"""Token-BIO reader on a real-shaped MedMentions fixture (CRLF, tab-only separators, stray I- tags)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenc_toolkit.corpora import load_types_file, read_bio, read_bio_sentences
from xenc_toolkit.errors import InputFormatError, SkipReport

DATA = Path(__file__).parent / "data" / "corpora"
BIO = DATA / "medmentions_bio_sample.tsv"


def test_sentences_tokens_and_lines():
    sentences = read_bio_sentences(BIO)
    assert [s.doc_id for s in sentences] == ["s1", "s2", "s3", "s4", "s5"]
    assert [len(s.tokens) for s in sentences] == [43, 22, 25, 25, 53]
    first = sentences[0]
    assert first.tokens[:4] == ["the", "impact", "of", "deployment"]
    assert first.tags[3] == "B-C2825812"
    assert first.lines[:2] == [1, 2]  # CRLF stripped, 1-based line numbers
    assert sentences[1].lines[0] == 45  # after the tab-only separator line 44


def test_mentions_text_ids_and_context():
    mentions = read_bio(BIO, context_window=3)
    by_id = {m.mention_id: m for m in mentions}
    military = by_id["s1:6"]
    assert military.text == "military families"  # tokens joined by spaces
    assert military.gold_ids == ("C3850016",)
    assert military.doc_id == "s1"
    assert (military.start, military.end) == (None, None)
    assert military.extra == {"token_start": 12, "token_end": 14}
    assert military.left_context == "child adjustment in"
    assert military.right_context == "since 9/11 ,"
    assert military.source == f"{BIO}:13"
    chars = {m.mention_id: m for m in read_bio(BIO, context_window=12, context_unit="chars")}["s1:6"]
    # 12 characters each side, cut back to whole words
    assert (chars.left_context, chars.right_context) == ("in", "since 9/11")


def test_types_map_fills_types():
    types = load_types_file(DATA / "cui_to_tuis.json")
    mentions = read_bio(BIO, types_map=types)
    by_id = {m.mention_id: m for m in mentions}
    assert by_id["s1:6"].types == ("T099",)
    assert by_id["s1:1"].types == ()  # C2825812 not in the small map


def test_stray_inside_default_reads_fragment_as_outside():
    report = SkipReport()
    mentions = read_bio(BIO, report=report)
    assert len(mentions) == 57
    assert report.notes == {"stray I- tag (fragment read as O)": 2}
    examples = report.note_examples["stray I- tag (fragment read as O)"]
    assert f"{BIO}:94: I-C4130454 after sentence start" in examples[0]  # 'strain cca53' after 'burkholderia sp .'
    assert f"{BIO}:145: I-C0596660 after O" in examples[1]
    s4 = [m.text for m in mentions if m.doc_id == "s4"]
    assert "strain cca53" not in s4


def test_stray_inside_begin_and_error():
    report = SkipReport()
    begun = read_bio(BIO, stray_inside="begin", report=report)
    assert len(begun) == 59
    assert {m.text for m in begun if m.gold_ids == ("C4130454",) and m.doc_id == "s4"} == {"strain cca53"}
    assert report.notes == {"stray I- tag (started a new mention)": 2}
    with pytest.raises(InputFormatError) as info:
        read_bio(BIO, stray_inside="error")
    assert info.value.line == 94 and info.value.path == str(BIO)
    assert "stray I- tag" in str(info.value) and "B-C4130454 before I-C4130454" in str(info.value)
    lenient = SkipReport(lenient=True)
    assert len(read_bio(BIO, stray_inside="error", report=lenient)) == 57
    assert lenient.counts == {"stray I- tag": 2}
    with pytest.raises(ValueError, match="stray_inside"):
        read_bio(BIO, stray_inside="ignore")  # type: ignore[arg-type]


def test_i_tag_with_another_id_is_stray(tmp_path):
    path = tmp_path / "b.tsv"
    path.write_text("heart\tB-C1\nattack\tI-C2\nrate\tI-C2\nand\tO\nx\tB-C3\ny\tI-C3\n", encoding="utf-8")
    report = SkipReport()
    mentions = read_bio(path, report=report)
    assert [(m.text, m.gold_ids) for m in mentions] == [("heart", ("C1",)), ("x y", ("C3",))]
    assert report.notes == {"stray I- tag (fragment read as O)": 1}
    begun = read_bio(path, stray_inside="begin")
    assert [(m.mention_id, m.text) for m in begun] == [("s1:1", "heart"), ("s1:2", "attack rate"), ("s1:3", "x y")]


def test_adjacent_b_tags_are_two_mentions_and_blank_lines_separate(tmp_path):
    path = tmp_path / "b.tsv"
    path.write_text("a\tB-C1\nb\tB-C1\n\n\n\t\nc\tO\n", encoding="utf-8")
    mentions = read_bio(path)
    assert [(m.mention_id, m.text) for m in mentions] == [("s1:1", "a"), ("s1:2", "b")]
    assert len(read_bio_sentences(path)) == 2
