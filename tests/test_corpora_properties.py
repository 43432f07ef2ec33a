"""Property tests for the corpus parsers.

Generated valid corpora round-trip through the writers and readers (every annotation's text is
``text[start:end]``); random corruptions of valid files either still parse or raise
:class:`InputFormatError` naming the file and a line -- never any other exception.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenc_toolkit.corpora import Document, Mention, read_bio, read_jsonl, read_pubtator, write_jsonl, write_pubtator
from xenc_toolkit.errors import InputFormatError, SkipReport

# XENC_HYPOTHESIS_EXAMPLES=2000 for a longer hunt
SETTINGS = settings(
    max_examples=int(os.environ.get("XENC_HYPOTHESIS_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# words may hold '|', accents and Unicode line separators (PubTator lines are split on \n only)
WORD = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGH0123456789-()|.,'éβ–\u2028\x85")),
    min_size=1,
    max_size=8,
).filter(lambda w: w.strip() == w and w.strip())
CUI = st.integers(0, 9_999_999).map(lambda n: f"C{n:07d}")
TUI = st.integers(1, 999).map(lambda n: f"T{n:03d}")


@st.composite
def documents(draw) -> list[Document]:
    pmids = draw(st.lists(st.integers(1, 10**8).map(str), min_size=1, max_size=4, unique=True))
    docs = []
    for pmid in pmids:
        title_words = draw(st.lists(WORD, min_size=1, max_size=6))
        abstract_words = draw(st.lists(WORD, min_size=0, max_size=20))
        doc = Document(pmid, " ".join(title_words), " ".join(abstract_words))
        words = title_words + abstract_words
        starts, position = [], 0
        for word in words:
            starts.append(position)
            position += len(word) + 1
        spans = draw(
            st.lists(st.tuples(st.integers(0, len(words) - 1), st.integers(1, 3)), max_size=8, unique_by=lambda s: s[0])
        )
        for first, length in spans:
            last = min(first + length, len(words)) - 1
            start, end = starts[first], starts[last] + len(words[last])
            doc.mentions.append(
                Mention(
                    f"{pmid}:{start}-{end}",
                    pmid,
                    doc.text[start:end],
                    tuple(draw(st.lists(CUI, max_size=3, unique=True))),
                    tuple(draw(st.lists(TUI, min_size=1, max_size=2, unique=True))),
                    start=start,
                    end=end,
                )
            )
        docs.append(doc)
    return docs


@st.composite
def bio_sentences(draw) -> list[list[tuple[str, str]]]:
    token = st.text(alphabet=st.sampled_from(list("abcxyz019-.,é")), min_size=1, max_size=6)
    sentences = []
    for _ in range(draw(st.integers(1, 4))):
        rows: list[tuple[str, str]] = []
        for _ in range(draw(st.integers(1, 5))):
            if draw(st.booleans()):
                rows.append((draw(token), "O"))
            else:
                cui = draw(CUI)
                rows.extend((draw(token), ("B-" if k == 0 else "I-") + cui) for k in range(draw(st.integers(1, 3))))
        sentences.append(rows)
    return sentences


def _bio_bytes(sentences: list[list[tuple[str, str]]], newline: str) -> bytes:
    lines = []
    for rows in sentences:
        lines.extend(f"{token}\t{tag}" for token, tag in rows)
        lines.append("\t")
    return newline.join(lines).encode("utf-8") + newline.encode()


# --------------------------------------------------------------------------- round trips
@SETTINGS
@given(documents(), st.sampled_from(["words", "chars"]))
def test_pubtator_round_trip(docs, unit):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_pubtator(docs, Path(tmp) / "docs.txt")
        again = read_pubtator(path, context_window=5, context_unit=unit)
    assert [(d.pmid, d.title, d.abstract) for d in again] == [(d.pmid, d.title, d.abstract) for d in docs]
    for original, read in zip(docs, again, strict=True):
        assert len(read.mentions) == len(original.mentions)
        for want, got in zip(original.mentions, read.mentions, strict=True):
            assert read.text[got.start : got.end] == got.text == want.text
            assert (got.mention_id, got.gold_ids, got.types) == (want.mention_id, want.gold_ids, want.types)


@SETTINGS
@given(bio_sentences(), st.sampled_from(["\n", "\r\n"]))
def test_bio_round_trip(sentences, newline):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.tsv"
        path.write_bytes(_bio_bytes(sentences, newline))
        mentions = read_bio(path)
    expected = []
    for n, rows in enumerate(sentences, start=1):
        current: list | None = None
        for token, tag in rows:
            if tag.startswith("B-"):
                current = [token]
                expected.append((f"s{n}", current, tag[2:]))
            elif tag.startswith("I-"):
                current.append(token)  # type: ignore[union-attr]
    assert [(m.doc_id, m.text, m.gold_ids) for m in mentions] == [(d, " ".join(t), (c,)) for d, t, c in expected]


@SETTINGS
@given(documents())
def test_jsonl_round_trip(docs):
    mentions = [m for d in docs for m in d.mentions]
    if not mentions:
        return
    for m in mentions:
        m.source = "generated"  # otherwise the reader fills in file:line
    with tempfile.TemporaryDirectory() as tmp:
        assert read_jsonl(write_jsonl(mentions, Path(tmp) / "m.jsonl")) == mentions


# --------------------------------------------------------------------------- corruptions
NOISE = [b"\t", b"\n", b"|", b"\xff", b"\xc3", b"x", b"9", b"-", b" ", b"{", b'"', b"\r\n"]


@st.composite
def corrupt(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "swap", "duplicate"]))
    if not data:
        return data
    i = draw(st.integers(0, len(data) - 1))
    if kind == "delete":
        return data[:i] + data[i + 1 :]
    if kind == "insert":
        return data[:i] + draw(st.sampled_from(NOISE)) + data[i:]
    if kind == "replace":
        return data[:i] + draw(st.sampled_from(NOISE)) + data[i + 1 :]
    if kind == "truncate":
        return data[:i]
    lines = data.split(b"\n")
    a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    if kind == "swap":
        lines[a], lines[b] = lines[b], lines[a]
    else:
        lines.insert(b, lines[a])
    return b"\n".join(lines)


def _check_corrupted(data: bytes, read) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corrupt.txt"
        path.write_bytes(data)
        for lenient in (False, True):
            try:
                read(path, SkipReport(lenient=lenient))
            except InputFormatError as error:
                assert error.path == str(path)
                assert isinstance(error.line, int) and error.line >= 1
                assert str(error).startswith(f"{path}:{error.line}: ")


@SETTINGS
@given(st.data(), documents())
def test_corrupted_pubtator_raises_only_input_format_errors(data, docs):
    with tempfile.TemporaryDirectory() as tmp:
        valid = write_pubtator(docs, Path(tmp) / "d.txt").read_bytes()
    _check_corrupted(data.draw(corrupt(valid)), lambda p, r: read_pubtator(p, report=r))


@SETTINGS
@given(st.data(), bio_sentences(), st.sampled_from(["\n", "\r\n"]))
def test_corrupted_bio_raises_only_input_format_errors(data, sentences, newline):
    valid = _bio_bytes(sentences, newline)
    _check_corrupted(data.draw(corrupt(valid)), lambda p, r: read_bio(p, stray_inside="error", report=r))


@SETTINGS
@given(st.data(), documents())
def test_corrupted_jsonl_raises_only_input_format_errors(data, docs):
    mentions = [m for d in docs for m in d.mentions]
    with tempfile.TemporaryDirectory() as tmp:
        valid = write_jsonl(mentions, Path(tmp) / "m.jsonl").read_bytes()
    _check_corrupted(data.draw(corrupt(valid)), lambda p, r: read_jsonl(p, report=r))
