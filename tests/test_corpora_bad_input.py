"""Bad input: every error names the file and the 1-based line and says what was expected;
lenient mode counts the same problems instead of stopping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from xenc_toolkit.corpora import assign_splits, read_bio, read_jsonl, read_pmid_list, read_pubtator
from xenc_toolkit.errors import InputFormatError, MissingInputError, SkipReport

DOC = "1|t|Heart attack\n1|a|Aspirin helps.\n"  # text: "Heart attack Aspirin helps."
GOOD = "1\t0\t12\tHeart attack\tT047\tC0027051\n"


@dataclass
class Case:
    name: str
    content: bytes
    read: Callable[[Path, SkipReport], object]
    line: int
    found: str
    expected: str
    reason: str | None  # lenient count key; None: fatal even when lenient (nothing to read)
    kept: int = 1  # mentions (or ids) still read when lenient


def _pubtator(path: Path, report: SkipReport) -> list:
    return [m for d in read_pubtator(path, report=report) for m in d.mentions]


def _bio(path: Path, report: SkipReport) -> list:
    return read_bio(path, report=report)


def _bio_strict_inside(path: Path, report: SkipReport) -> list:
    return read_bio(path, stray_inside="error", report=report)


def _jsonl(path: Path, report: SkipReport) -> list:
    return read_jsonl(path, report=report)


def _ids(path: Path, report: SkipReport) -> list:
    return list(read_pmid_list(path, report))


CASES = [
    Case(
        "pubtator wrong column count",
        (DOC + GOOD + "1\t13\t20\tAspirin\tT109\n").encode(),
        _pubtator,
        4,
        "5 tab-separated columns",
        "6 tab-separated columns: PMID, start, end, mention, type(s), concept id(s)",
        "wrong column count",
    ),
    Case(
        "pubtator empty id field",
        (DOC + GOOD + "1\t13\t20\tAspirin\tT109\t \n").encode(),
        _pubtator,
        4,
        "empty concept id column",
        "or -1 for an unlinkable mention",
        "bad concept id column",
    ),
    Case(
        "pubtator non-UTF-8 bytes",
        DOC.encode() + b"1\t0\t12\tHeart \xe9ttack\tT047\tC0027051\n" + b"1\t13\t20\tAspirin\tT109\tC1\n",
        _pubtator,
        3,
        "not valid UTF-8: byte(s) 0xe9 at byte 14 of the line, after '1\\t0\\t12\\tHeart '",
        "UTF-8 text",
        "not valid UTF-8",
    ),
    Case(
        "pubtator truncated last line",
        (DOC + GOOD + "1\t13\t20\tAspi").encode(),
        _pubtator,
        4,
        "4 tab-separated columns in an annotation line (last line has no final newline: is the file truncated?)",
        "6 tab-separated columns",
        "wrong column count",
    ),
    Case(
        "pubtator offsets outside the text",
        (DOC + GOOD + "1\t21\t40\thelps.\tT\tC1\n").encode(),
        _pubtator,
        4,
        "offsets 21-40 outside the text of PMID 1 (27 characters)",
        "end <= len(title + ' ' + abstract)",
        "offsets outside the text",
    ),
    Case(
        "pubtator reversed span",
        (DOC + GOOD + "1\t20\t13\tAspirin\tT\tC1\n").encode(),
        _pubtator,
        4,
        "empty or reversed span 20-13",
        "start < end",
        "offsets outside the text",
    ),
    Case(
        "pubtator offsets do not match the text",
        (DOC + GOOD + "1\t13\t20\tAspirun\tT109\tC1\n").encode(),
        _pubtator,
        4,
        "offsets 13-20 of PMID 1 give 'Aspirin' but the mention column says 'Aspirun'",
        "text[start:end] == mention",
        "offsets do not match the text",
    ),
    Case(
        "pubtator non-integer offset",
        (DOC + GOOD + "1\t13\t2O\tAspirin\tT109\tC1\n").encode(),
        _pubtator,
        4,
        "end offset '2O' is not an integer",
        "non-negative integers",
        "non-integer offset",
    ),
    Case(
        "pubtator mention before its title",
        ("1\t0\t12\tHeart attack\tT047\tC1\n" + DOC + GOOD).encode(),
        _pubtator,
        1,
        "annotation line of PMID 1 before its title/abstract lines",
        "'PMID|t|' and 'PMID|a|' lines first",
        "annotation before its title/abstract",
    ),
    Case(
        "pubtator mention before its abstract",
        ("1|t|Heart attack\n" + GOOD + "1|a|Aspirin helps.\n").encode(),
        _pubtator,
        2,
        "annotation line of PMID 1 before its abstract line",
        "'1|a|abstract' first",
        "annotation before its title/abstract",
        kept=0,
    ),
    Case(
        "pubtator annotation of another PMID",
        (DOC + GOOD + "2\t13\t20\tAspirin\tT109\tC1\n").encode(),
        _pubtator,
        4,
        "annotation line of PMID 2 inside document 1 (title at line 1)",
        "right after their own document's title",
        "annotation of another PMID",
    ),
    Case(
        "pubtator unrecognised line",
        (DOC + GOOD + "Aspirin helps.\n").encode(),
        _pubtator,
        4,
        "unrecognised line 'Aspirin helps.'",
        "'PMID|t|title'",
        "unrecognised line",
    ),
    Case(
        "pubtator empty file",
        b"",
        _pubtator,
        1,
        "no PubTator document in the file (it is empty)",
        "'PMID|t|title'",
        None,
    ),
    Case(
        "bio bad tag",
        b"heart\tB-C1\nattack\tX-C123\nrate\tO\n",
        _bio,
        2,
        "bad BIO tag 'X-C123'",
        "O, B-<concept id> or I-<concept id>",
        "bad BIO tag",
    ),
    Case(
        "bio I- without B-",
        b"the\tO\nattack\tI-C1\n\t\nheart\tB-C2\n",
        _bio_strict_inside,
        2,
        "stray I- tag: I-C1 continues no mention (previous tag: O)",
        "B-C1 before I-C1",
        "stray I- tag",
    ),
    Case(
        "bio wrong column count",
        b"heart\tB-C1\nattack\tI-C1\textra\n",
        _bio,
        2,
        "3 tab-separated column(s)",
        "'token<TAB>tag'",
        "wrong column count",
    ),
    Case(
        "bio empty id",
        b"heart\tB-\r\nrate\tB-C1\r\n",
        _bio,
        1,
        "empty concept id in tag 'B-'",
        "B-<concept id>",
        "empty concept id",
    ),
    Case(
        "bio non-UTF-8 bytes",
        b"heart\tB-C1\n\xff\xfe\tO\n",
        _bio,
        2,
        "not valid UTF-8",
        "UTF-8 text",
        "not valid UTF-8",
    ),
    Case(
        "bio truncated last line",
        b"heart\tB-C1\r\nattack",
        _bio,
        2,
        "1 tab-separated column(s) (last line has no final newline: is the file truncated?)",
        "'token<TAB>tag'",
        "wrong column count",
    ),
    Case("bio empty file", b"", _bio, 1, "no token in the file (it is empty)", "'token<TAB>tag'", None),
    Case(
        "jsonl bad JSON",
        b'{"text": "a"}\n{"text": "b"\n',
        _jsonl,
        2,
        "invalid JSON: Expecting ',' delimiter",
        "one JSON object per line",
        "invalid JSON",
    ),
    Case(
        "jsonl missing text",
        b'{"text": "a"}\n{"gold_ids": []}\n',
        _jsonl,
        2,
        '"text" is missing',
        '"text"',
        "missing text",
    ),
    Case(
        "split file bad line",
        b"111\n222 333\n444\n",
        _ids,
        2,
        "not a document id: '222 333'",
        "one document id (PMID) per line",
        "bad split file line",
        kept=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_reported_with_file_and_line(tmp_path, case):
    path = tmp_path / "input.txt"
    path.write_bytes(case.content)
    with pytest.raises(InputFormatError) as info:
        case.read(path, SkipReport())
    error = info.value
    text = str(error)
    assert text.startswith(f"{path}:{case.line}: "), text
    assert (error.path, error.line) == (str(path), case.line)
    assert case.found in error.message, text
    assert error.expected and case.expected in error.expected, text
    assert f"(expected {error.expected})" in text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lenient_mode_counts_bad_input(tmp_path, case):
    path = tmp_path / "input.txt"
    path.write_bytes(case.content)
    report = SkipReport(lenient=True)
    if case.reason is None:  # nothing to read at all: fatal even when lenient
        with pytest.raises(InputFormatError):
            case.read(path, report)
        return
    result = case.read(path, report)
    assert report.counts == {case.reason: 1}
    assert len(result) == case.kept
    assert f"{path}:{case.line}:" in report.examples[case.reason][0]
    assert report.summary_lines()[0] == "skipped 1 bad line(s) (lenient: --corpus-lenient / --kb-lenient):"


def test_header_problems_count_the_lines_of_the_rejected_document(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("2|a|abstract before title\n2\t0\t8\tabstract\tT\tC1\n\n" + DOC + GOOD, encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"c\.txt:1: abstract line of PMID 2 before its title line"):
        read_pubtator(path)
    report = SkipReport(lenient=True)
    assert len(_pubtator(path, report)) == 1
    assert report.counts == {"abstract line out of place": 1, "line of a rejected document": 1}


# --------------------------------------------------------------------------- splits and missing files
def _pubtator_two_docs(tmp_path: Path) -> list:
    path = tmp_path / "corpus.txt"
    path.write_text(DOC + GOOD + "\n2|t|Second\n2|a|doc\n", encoding="utf-8")
    return read_pubtator(path)


def test_unknown_split_pmid(tmp_path):
    dev = tmp_path / "dev.txt"
    dev.write_text("2\n\n12345\n", encoding="utf-8")
    (tmp_path / "train.txt").write_text("1\n", encoding="utf-8")
    splits = {"train": tmp_path / "train.txt", "dev": dev}
    with pytest.raises(InputFormatError) as info:
        assign_splits(_pubtator_two_docs(tmp_path), splits)
    assert str(info.value).startswith(f"{dev}:3: unknown split PMID 12345: listed in split 'dev' but not in the corpus")
    assert "only PMIDs of documents present in the corpus" in info.value.expected
    report = SkipReport(lenient=True)
    assign_splits(_pubtator_two_docs(tmp_path), splits, report=report)
    assert report.counts == {"unknown split PMID": 1}


def test_duplicate_pmid_across_split_files(tmp_path):
    (tmp_path / "train.txt").write_text("1\n2\n", encoding="utf-8")
    (tmp_path / "dev.txt").write_text("2\n", encoding="utf-8")
    splits = {"train": tmp_path / "train.txt", "dev": tmp_path / "dev.txt"}
    with pytest.raises(InputFormatError) as info:
        assign_splits(_pubtator_two_docs(tmp_path), splits)
    assert str(info.value).startswith(f"{tmp_path / 'dev.txt'}:1: PMID 2 of split 'dev' is also in split 'train' ")
    assert f"({tmp_path / 'train.txt'}:2)" in str(info.value)
    assert info.value.expected == "each PMID in exactly one split file"
    report = SkipReport(lenient=True)
    assign_splits(_pubtator_two_docs(tmp_path), splits, report=report)
    assert report.counts == {"PMID in two split files": 1}


def test_pmid_twice_in_one_split_file(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("1\n2\n1\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"train\.txt:3: PMID 1 listed twice \(first at line 1\)"):
        read_pmid_list(path)


@pytest.mark.parametrize("read", [_pubtator, _bio, _jsonl, _ids])
def test_missing_file(tmp_path, read):
    path = tmp_path / "absent.txt"
    with pytest.raises(MissingInputError, match=r"absent\.txt: corpus file not found"):
        read(path, SkipReport(lenient=True))


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(MissingInputError, match="found a directory"):
        read_bio(tmp_path)
