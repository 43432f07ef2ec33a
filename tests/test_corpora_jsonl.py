"""JSONL mentions: read, write, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenc_toolkit.corpora import Mention, read_jsonl, read_pubtator, write_jsonl
from xenc_toolkit.errors import InputFormatError, SkipReport

DATA = Path(__file__).parent / "data" / "corpora"
JSONL = DATA / "mentions.jsonl"


def test_read_fixture_defaults_and_extra_keys():
    mentions = read_jsonl(JSONL)
    assert [m.mention_id for m in mentions] == ["25763772:67-82", "25763772:0-5", "mentions:3", "mentions:4"]
    first = mentions[0]
    assert (first.text, first.gold_ids, first.types, first.doc_id) == (
        "cystic fibrosis",
        ("C0010674",),
        ("T047",),
        "25763772",
    )
    assert first.source == f"{JSONL}:1"
    assert mentions[2].extra == {"corpus": "MedMentions"}  # unknown keys are kept in extra
    assert not mentions[3].is_linkable


def test_context_window_trims_given_contexts():
    first = read_jsonl(JSONL, context_window=2)[0]
    assert first.left_context == "infection in"
    assert first.right_context == "Pseudomonas aeruginosa"


def test_write_read_round_trip(tmp_path):
    docs = read_pubtator(DATA / "bc5cdr_sample.txt")
    mentions = [m for d in docs for m in d.mentions]
    mentions[0].split = "train"
    path = write_jsonl(mentions, tmp_path / "out" / "m.jsonl")
    assert read_jsonl(path) == mentions


def test_unicode_is_written_as_is(tmp_path):
    path = write_jsonl([Mention("a:1", "a", "Sjögren syndrome", ("C1",))], tmp_path / "m.jsonl")
    assert "Sjögren" in path.read_text(encoding="utf-8")
    assert read_jsonl(path)[0].text == "Sjögren syndrome"


@pytest.mark.parametrize(
    ("line", "found", "expected"),
    [
        ('{"text": "a", ', "invalid JSON", "one JSON object per line"),
        ('["a"]', "a JSON list instead of an object", "one JSON object per line"),
        ('{"gold_ids": ["C1"]}', '"text" is missing', '"text": the mention string'),
        ('{"text": ""}', '"text" is ""', '"text": the mention string'),
        ('{"text": "a", "gold_ids": "C1"}', '"gold_ids" is "C1"', "a list of non-empty strings"),
        ('{"text": "a", "start": "3"}', "\"start\" is '3'", "a non-negative integer or null"),
        ('{"text": "a", "start": 5, "end": 2}', "start 5 >= end 2", "start < end"),
    ],
)
def test_bad_lines_name_file_line_and_expectation(tmp_path, line, found, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputFormatError) as info:
        read_jsonl(path)
    assert info.value.path == str(path) and info.value.line == 3
    assert found in info.value.message
    assert expected in (info.value.expected or "")
    report = SkipReport(lenient=True)
    assert [m.text for m in read_jsonl(path, report=report)] == ["ok"]
    assert report.total == 1


def test_duplicate_mention_id(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"mention_id": "x", "text": "a"}\n{"mention_id": "x", "text": "b"}\n', encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"dup\.jsonl:2: mention_id 'x' repeats line 1"):
        read_jsonl(path)
