"""Every parser of user input, fed random bytes and mutated real lines (hypothesis).

Parsers: the RRF files (MRCONSO, MRSTY, MRDEF through ``load_umls``; MRCUI), PubTator, BIO,
JSONL corpora, MEDIC and TSV dictionaries, ``xenc link`` input (text, TSV, JSONL), the CUI -> TUI
types file, split PMID lists and YAML configs. The inputs are random bytes, or a run of real lines
from ``tests/data`` with a few mutations (bytes deleted, inserted or replaced with separators,
non-UTF-8 bytes, a byte-order mark, markup-looking text; lines swapped, repeated, dropped, joined;
CRLF endings; truncation). Each parse, strict and lenient, either returns or raises a documented
error: :class:`InputFormatError` naming the file and a 1-based line (``path:line: ...``), or for a
config file :class:`ConfigError` naming the file -- never another exception.

``XENC_HYPOTHESIS_EXAMPLES`` sets the examples per parser (default 100; CI stays well under a minute).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenc_toolkit.config import TrainConfig, load_config
from xenc_toolkit.corpora import load_types_file, read_bio, read_jsonl, read_pubtator
from xenc_toolkit.corpora.splits import read_pmid_list
from xenc_toolkit.errors import ConfigError, InputFormatError, SkipReport
from xenc_toolkit.kb import load_medic, load_tsv, load_umls
from xenc_toolkit.kb.mrcui import load_mrcui
from xenc_toolkit.linking.io import read_link_input

DATA = Path(__file__).parent / "data"
META = DATA / "umls" / "META"
CORPORA = DATA / "corpora"
LINK_JSONL = (
    b'{"mention": "cystic fibrosis", "context": "infection in cystic fibrosis patients", "types": ["T047"]}\n'
    b'{"mention": "DCTN4", "left_context": "", "right_context": "as a modifier", "id": "m2"}\n'
    b'{"mention": "aspirin", "types": "T121,CHEM"}\n'
)
CONFIG_YAML = (
    b"train:\n  pairs_dir: runs/pairs\n  loss: listwise\n  batch_size: 8\n  report_to: [none]\nmine:\n  seed: 1\n"
)

SETTINGS = settings(
    max_examples=int(os.environ.get("XENC_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOISE = [
    b"|",
    b"||",
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b"\xe9",  # latin-1 e-acute: not UTF-8
    b"\xff",
    b"\xc3",  # a truncated UTF-8 sequence
    b"\xef\xbb\xbf",  # a byte-order mark in the middle
    b"\x00",
    b" ",
    b"-1",
    b"+",
    b"{",
    b"}",
    b'"',
    b"\\u",
    b"[bold]",
    b"[/]",
    b"C0000000",
    b"999999999999",
    b"-",
    b":",
]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """A run of the real lines of ``data``, mutated a few times."""
    lines = _lines(data)
    start = draw(st.integers(0, len(lines) - 1))
    stop = draw(st.integers(start + 1, min(len(lines), start + 12)))
    text = b"\n".join(lines[start:stop]) + draw(st.sampled_from([b"\n", b"", b"\n\n"]))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(
                ["delete", "insert", "replace", "truncate", "swap", "repeat", "drop", "join", "bom", "crlf"]
            )
        )
        if kind == "bom":
            text = b"\xef\xbb\xbf" + text
            continue
        if kind == "crlf":
            text = text.replace(b"\n", b"\r\n")
            continue
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)) :]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(NOISE)) + text[i:]
        elif kind == "replace":
            text = text[:i] + draw(st.sampled_from(NOISE)) + text[i + 1 :]
        elif kind == "truncate":
            text = text[:i]
        else:
            parts = _lines(text)
            a, b = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
            if kind == "swap":
                parts[a], parts[b] = parts[b], parts[a]
            elif kind == "repeat":
                parts.insert(b, parts[a])
            elif kind == "drop":
                del parts[a]
            elif len(parts) > 1:  # join two lines
                parts[a : a + 2] = [b"".join(parts[a : a + 2])]
            text = b"\n".join(parts)
    return text


def inputs(data: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), mutated(data))


def _expect_documented(call: Callable[[], object], path: Path, *, config: bool = False) -> None:
    """``call()`` returns, or raises an InputFormatError naming a file next to ``path`` and a line
    (or, for a config file, a ConfigError naming it); any other exception fails the test."""
    try:
        call()
    except InputFormatError as error:
        assert Path(error.path).parent == path.parent, str(error)  # the file itself, or a sibling RRF file
        assert isinstance(error.line, int) and error.line >= 1, str(error)
        assert str(error).startswith(f"{error.path}:{error.line}: "), str(error)
    except ConfigError as error:
        assert config, f"ConfigError from a data file: {error}"
        assert str(path) in str(error), str(error)


def _run(data: bytes, name: str, parse: Callable[[Path, SkipReport], object], *, config: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        for lenient in (False, True):
            _expect_documented(lambda: parse(path, SkipReport(lenient=lenient)), path, config=config)  # noqa: B023


def _run_umls(data: bytes, rrf: str, **kwargs) -> None:
    """Replace one RRF file of the fixture release with ``data`` and load the release."""
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(shutil.copytree(META, Path(tmp) / "META"))
        path = meta / rrf
        path.write_bytes(data)
        for lenient in (False, True):
            _expect_documented(
                lambda: load_umls(meta, report=SkipReport(lenient=lenient), **kwargs),  # noqa: B023
                path,
            )


# --------------------------------------------------------------------------- UMLS RRF
@SETTINGS
@given(inputs((META / "MRCONSO.RRF").read_bytes()))
def test_mrconso(data):
    _run_umls(data, "MRCONSO.RRF", map_retired=False)


@SETTINGS
@given(inputs((META / "MRSTY.RRF").read_bytes()))
def test_mrsty(data):
    _run_umls(data, "MRSTY.RRF", map_retired=False)


@SETTINGS
@given(inputs((META / "MRDEF.RRF").read_bytes()))
def test_mrdef(data):
    _run_umls(data, "MRDEF.RRF", map_retired=False, load_definitions=True)


@SETTINGS
@given(inputs((META / "MRCUI.RRF").read_bytes()))
def test_mrcui(data):
    _run(data, "MRCUI.RRF", lambda path, report: load_mrcui(path, report))


# --------------------------------------------------------------------------- corpora
PUBTATOR = b"\n".join(
    (CORPORA / name).read_bytes() for name in ("medmentions_sample.pubtator", "ncbi_sample.txt", "bc5cdr_sample.txt")
)


@SETTINGS
@given(inputs(PUBTATOR))
def test_pubtator(data):
    _run(data, "corpus.txt", lambda path, report: read_pubtator(path, report=report))


@SETTINGS
@given(inputs((CORPORA / "medmentions_bio_sample.tsv").read_bytes()))
def test_bio(data):
    _run(data, "corpus.tsv", lambda path, report: read_bio(path, report=report))


@SETTINGS
@given(inputs((CORPORA / "mentions.jsonl").read_bytes()))
def test_jsonl_corpus(data):
    _run(data, "mentions.jsonl", lambda path, report: read_jsonl(path, context_window=4, report=report))


@SETTINGS
@given(inputs((CORPORA / "cui_to_tuis.json").read_bytes()))
def test_types_file(data):
    _run(data, "cui_to_tuis.json", lambda path, report: load_types_file(path))


@SETTINGS
@given(inputs((CORPORA / "medmentions_pmids_train.txt").read_bytes() + b"\n12345678\n87654321\n"))
def test_split_pmid_list(data):
    _run(data, "pmids_train.txt", lambda path, report: read_pmid_list(path, report))


# --------------------------------------------------------------------------- dictionaries
@SETTINGS
@given(inputs((DATA / "dictionaries" / "medic_sample.txt").read_bytes()))
def test_medic(data):
    _run(data, "medic.txt", lambda path, report: load_medic(path, report))


@SETTINGS
@given(inputs((DATA / "dictionaries" / "sample.tsv").read_bytes()))
def test_tsv_dictionary(data):
    _run(data, "kb.tsv", lambda path, report: load_tsv(path, report))


# --------------------------------------------------------------------------- xenc link input, configs
@pytest.mark.parametrize("fmt", ["text", "tsv", "jsonl"])
@SETTINGS
@given(data=st.data())
def test_link_input(fmt, data):
    real = LINK_JSONL if fmt == "jsonl" else (Path(__file__).parents[1] / "examples" / "mentions.tsv").read_bytes()
    content = data.draw(inputs(real))
    _run(content, f"mentions.{fmt}", lambda path, report: read_link_input(path, fmt, report))


@SETTINGS
@given(inputs(CONFIG_YAML))
def test_yaml_config(data):
    _run(data, "pipeline.yaml", lambda path, report: load_config(TrainConfig, path), config=True)


# --------------------------------------------------------------------------- inputs random bytes rarely hit
DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.mark.parametrize(
    ("name", "data", "parse"),
    [
        ("mentions.jsonl", b'{"text": "x", "gold_ids": ' + DEEP + b"}\n", lambda p, r: read_jsonl(p, report=r)),
        ("mentions.jsonl", b'{"text": "x\\ud800", "gold_ids": ["C1"]}\n', lambda p, r: read_jsonl(p, report=r)),
        ("types.json", b'{"C0000005": ' + DEEP + b"}", lambda p, r: load_types_file(p)),
        ("link.jsonl", b'{"mention": "x", "types": ' + DEEP + b"}\n", lambda p, r: read_link_input(p, "jsonl", r)),
        ("link.jsonl", b'{"mention": "x\\udc00y"}\n', lambda p, r: read_link_input(p, "jsonl", r)),
        ("link.jsonl", b'{"mention": "x", "types": 5}\n', lambda p, r: read_link_input(p, "jsonl", r)),
        ("link.jsonl", b'{"mention": "x", "context": ["a"]}\n', lambda p, r: read_link_input(p, "jsonl", r)),
    ],
)
def test_json_edge_cases_are_line_errors(tmp_path, name, data, parse):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputFormatError, match=rf"^{re.escape(str(path))}:1: "):
        parse(path, SkipReport())


@pytest.mark.parametrize(
    "text",
    [
        "seed: 2001-02-30\n",  # a date PyYAML parses but cannot build
        "seed: !!timestamp x\n",
        "seed: !!binary 'abc'\n",
        "train: &a {loss: *a}\n",  # an alias inside itself
        "batch_size: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
)
def test_yaml_edge_cases_are_config_errors(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}"):
        load_config(TrainConfig, path)
