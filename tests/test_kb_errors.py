"""Bad input: every problem names the file and the 1-based line; lenient mode counts it instead."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from xenc_toolkit.errors import InputFormatError, MissingInputError, SkipReport
from xenc_toolkit.kb import load_medic, load_tsv, load_umls

DATA = Path(__file__).parent / "data"
META = DATA / "umls" / "META"
MEDIC = DATA / "dictionaries" / "medic_sample.txt"
TSV = DATA / "dictionaries" / "sample.tsv"


def replace_line(path: Path, number: int, new: bytes | None) -> None:
    """Replace (or, with None, delete) line ``number`` (1-based) of ``path``."""
    lines = path.read_bytes().split(b"\n")
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new
    path.write_bytes(b"\n".join(lines))


def line(path: Path, number: int) -> bytes:
    return path.read_bytes().split(b"\n")[number - 1]


def set_field(index: int, value: bytes) -> Callable[[bytes], bytes]:
    """A corruption setting field ``index`` (0-based) of a row."""

    def corrupt(row: bytes) -> bytes:
        fields = row.split(b"|")
        fields[index] = value
        return b"|".join(fields)

    return corrupt


# (id, file, line number, corruption of that line, words expected in the message)
RRF_CASES: list[tuple[str, str, int, Callable[[bytes], bytes], str]] = [
    ("mrconso-missing-field", "MRCONSO.RRF", 7, lambda b: b.replace(b"|", b"", 1), "17 of 18 fields"),
    ("mrconso-extra-field", "MRCONSO.RRF", 9, lambda b: b + b"extra|", "too many fields"),
    ("mrconso-empty-cui", "MRCONSO.RRF", 12, lambda b: b[8:], "empty CUI"),
    ("mrconso-bad-cui", "MRCONSO.RRF", 13, lambda b: b"X" + b[1:], "CUI 'X0000970'"),
    ("mrconso-non-utf8", "MRCONSO.RRF", 24, lambda b: b.replace(b"|Aspirin|", b"|Aspirin\xff\xfe|"), "not valid UTF-8"),
    ("mrconso-no-trailing-bar", "MRCONSO.RRF", 30, lambda b: b[:-1], "no trailing '|'"),
    ("mrconso-bad-suppress", "MRCONSO.RRF", 31, set_field(16, b"Q"), "SUPPRESS 'Q'"),
    ("mrconso-bad-ts", "MRCONSO.RRF", 35, set_field(2, b"X"), "TS 'X'"),
    ("mrconso-empty-str", "MRCONSO.RRF", 40, lambda b: b.replace(b"|Blood|", b"||"), "empty STR"),
    ("mrconso-blank-line", "MRCONSO.RRF", 50, lambda b: b"", "empty"),
    ("mrsty-bad-tui", "MRSTY.RRF", 5, set_field(1, b"047"), "TUI '047'"),
    ("mrsty-missing-field", "MRSTY.RRF", 6, lambda b: b.rsplit(b"|", 2)[0] + b"|", "5 of 6 fields"),
    ("mrcui-bad-rel", "MRCUI.RRF", 4, lambda b: b.replace(b"|DEL|", b"|XX|"), "REL 'XX'"),
    ("mrcui-sy-without-cui2", "MRCUI.RRF", 2, lambda b: b.replace(b"|C0000003|", b"||"), "REL SY without CUI2"),
    ("mrcui-bad-cui2", "MRCUI.RRF", 1, lambda b: b.replace(b"|C0004057|", b"|C4057|"), "CUI2 'C4057'"),
]


@pytest.fixture
def meta(tmp_path) -> Path:
    target = tmp_path / "META"
    shutil.copytree(META, target)
    return target


@pytest.mark.parametrize(
    ("file", "number", "corrupt", "words"), [c[1:] for c in RRF_CASES], ids=[c[0] for c in RRF_CASES]
)
def test_rrf_bad_line(meta, file, number, corrupt, words):
    path = meta / file
    replace_line(path, number, corrupt(line(path, number)))
    with pytest.raises(InputFormatError) as error:
        load_umls(meta)
    message = str(error.value)
    assert f"{file}:{number}:" in message, message
    assert error.value.line == number and error.value.path == str(path)
    assert words in message, message
    assert error.value.expected

    report = SkipReport(lenient=True)
    kb = load_umls(meta, report=report)
    assert report.total == 1, report.to_dict()
    (reason,) = report.counts
    assert reason.startswith(file)
    assert f"{file}:{number}:" in report.examples[reason][0]
    assert kb.n_concepts >= 41


def test_lenient_result_equals_strict_result_without_the_bad_line(meta, tmp_path):
    """A skipped line is exactly as if it were absent, even after the reader switches to the line scan."""
    path = meta / "MRCONSO.RRF"
    clean = tmp_path / "clean"
    shutil.copytree(meta, clean)
    replace_line(clean / "MRCONSO.RRF", 24, None)
    replace_line(path, 24, line(path, 24).replace(b"|MSH|", b"|"))
    report = SkipReport(lenient=True)
    lenient = load_umls(meta, report=report)
    strict = load_umls(clean)
    assert report.total == 1
    assert lenient.concept_ids == strict.concept_ids
    assert lenient.name_list == strict.name_list
    assert lenient.preferred_names == strict.preferred_names


def test_truncated_last_line(meta):
    path = meta / "MRCONSO.RRF"
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data[: data.rfind(b"|Maladie") + 1])  # cut inside the last row, no final newline
    n_lines = data.count(b"\n") + 1
    with pytest.raises(InputFormatError, match=rf"MRCONSO.RRF:{n_lines}: truncated last line"):
        load_umls(meta)
    report = SkipReport(lenient=True)
    load_umls(meta, report=report, languages=[])
    assert report.counts == {"MRCONSO.RRF: wrong number of fields": 1}


def test_mrdef_bad_line_only_matters_with_definitions(meta):
    path = meta / "MRDEF.RRF"
    replace_line(path, 3, line(path, 3).replace(b"|N||", b"|Z||"))
    load_umls(meta)  # MRDEF is not read
    with pytest.raises(InputFormatError, match="MRDEF.RRF:3: SUPPRESS 'Z'"):
        load_umls(meta, load_definitions=True)


def test_several_bad_lines_are_all_counted(meta):
    path = meta / "MRCONSO.RRF"
    for number in (3, 60, 100):
        replace_line(path, number, b"C123|broken")
    replace_line(path, 120, set_field(16, b"Q")(line(path, 120)))
    report = SkipReport(lenient=True)
    load_umls(meta, report=report)
    assert report.counts == {"MRCONSO.RRF: wrong number of fields": 3, "MRCONSO.RRF: bad SUPPRESS": 1}
    assert report.summary_lines()[0] == "skipped 4 bad line(s) (lenient: --corpus-lenient / --kb-lenient):"


def test_missing_files_raise_missing_input(tmp_path):
    with pytest.raises(MissingInputError):
        load_medic(tmp_path / "nope.txt")
    with pytest.raises(MissingInputError):
        load_tsv(tmp_path / "nope.tsv")


# --------------------------------------------------------------------------- dictionaries
DICT_CASES = [
    ("medic-no-separator", MEDIC, 3, b"D001249|600807|Asthma|Asthma, Bronchial", "no '||'"),
    ("medic-empty-name", MEDIC, 6, b"D006973||Hypertension||High Blood Pressure", "empty name"),
    ("medic-no-names", MEDIC, 7, b"D003920||", "no names"),
    ("medic-empty-id", MEDIC, 8, b"|104300||Alzheimer Disease", "empty id"),
    ("medic-non-utf8", MEDIC, 9, b"C567755|613097||Tooth Agenesis\xe9, Selective, 6", "not valid UTF-8"),
    ("tsv-one-field", TSV, 3, b"C0004057 Acetylsalicylic Acid", "1 tab-separated field"),
    ("tsv-four-fields", TSV, 4, b"C0004057\tASA\tT109\textra", "4 tab-separated field"),
    ("tsv-empty-id", TSV, 5, b"\tMyocardial Infarction\tT047", "empty id"),
    ("tsv-empty-name", TSV, 6, b"C0027051\t \t", "empty name"),
]


@pytest.mark.parametrize(
    ("source", "number", "new", "words"), [c[1:] for c in DICT_CASES], ids=[c[0] for c in DICT_CASES]
)
def test_dictionary_bad_line(tmp_path, source, number, new, words):
    path = tmp_path / source.name
    shutil.copy(source, path)
    replace_line(path, number, new)
    loader = load_tsv if path.suffix == ".tsv" else load_medic
    with pytest.raises(InputFormatError) as error:
        loader(path)
    assert f"{path.name}:{number}:" in str(error.value) and words in str(error.value), str(error.value)
    assert error.value.line == number
    report = SkipReport(lenient=True)
    kb = loader(path, report)
    assert report.total == 1 and kb.n_concepts >= 3


def test_empty_dictionary(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="no concepts"):
        load_medic(path)
