"""Property tests of the RRF and MEDIC parsers (hypothesis).

- any valid MRCONSO rows load to exactly the concepts, names and preferred names a
  plain-Python reading of the UMLS rules gives;
- the Arrow block reader and the line-by-line reader agree row for row on any input;
- random corruption gives an InputFormatError naming a line, never another exception;
- MEDIC files round-trip ids, alt ids and (HTML-escaped) names.
"""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenc_toolkit.errors import InputFormatError, SkipReport
from xenc_toolkit.kb import load_medic, load_umls, read_rrf
from xenc_toolkit.kb import rrf as umls_module  # the RRF reader (block size, resume distance)
from xenc_toolkit.kb.rrf import MRCONSO, _read_slow, _Segment
from xenc_toolkit.kb.umls import _MRCONSO_CHECKS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# names: any text without '|' or control characters (line breaks included), surrogates excluded
name_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="|"), min_size=1, max_size=12
)
row = st.fixed_dictionaries(
    {
        "cui": st.integers(1, 4).map(lambda i: f"C{i * 1234:07d}"),
        "lat": st.sampled_from(["ENG", "ENG", "SPA"]),
        "ts": st.sampled_from("PPS"),
        "stt": st.sampled_from(["PF", "PF", "VO"]),
        "ispref": st.sampled_from("YN"),
        "sab": st.sampled_from(["MSH", "NCI", "SNOMEDCT_US"]),
        "tty": st.sampled_from(["PT", "SY", "MH"]),
        "str": name_text,
        "suppress": st.sampled_from("NNNOEY"),
    }
)


def rrf_line(r: dict, number: int) -> str:
    return (
        "|".join(
            [r["cui"], r["lat"], r["ts"], f"L{number:07d}", r["stt"], f"S{number:07d}", r["ispref"], f"A{number:08d}"]
            + ["", "", "", r["sab"], r["tty"], "X1", r["str"], "0", r["suppress"], ""]
        )
        + "|"
    )


def write_meta(directory: Path, rows: list[dict], newline: str = "\n") -> Path:
    meta = directory / "META"
    meta.mkdir(exist_ok=True)
    (meta / "MRCONSO.RRF").write_text(
        newline.join(rrf_line(r, i) for i, r in enumerate(rows, 1)) + newline, encoding="utf-8", newline=""
    )
    cuis = sorted({r["cui"] for r in rows})
    (meta / "MRSTY.RRF").write_text(
        "".join(f"{c}|T047|B2.2.1.2.1|Disease or Syndrome|AT{i}|256|\n" for i, c in enumerate(cuis)), encoding="utf-8"
    )
    return meta


def expected_kb(rows: list[dict]) -> dict[str, list[str]]:
    """CUI -> names (preferred first) by the documented rules, in plain Python."""
    best: dict[tuple[str, str], tuple[int, int]] = {}
    for number, r in enumerate(rows, 1):
        if r["lat"] != "ENG" or r["suppress"] in "OEY":
            continue
        rank = 0 if (r["ts"], r["stt"], r["ispref"]) == ("P", "PF", "Y") else 1 if r["ts"] == "P" else 2
        key = (r["cui"], r["str"])
        best[key] = min(best.get(key, (rank, number)), (rank, number))
    out: dict[str, list[str]] = {}
    for (cui, name), _ in sorted(best.items(), key=lambda item: (item[0][0], item[1])):
        out.setdefault(cui, []).append(name)
    return out


@SETTINGS
@given(rows=st.lists(row, min_size=1, max_size=30), crlf=st.booleans(), tiny_blocks=st.booleans())
def test_valid_rows_load_to_the_expected_concepts(rows, crlf, tiny_blocks):
    expected = expected_kb(rows)
    with tempfile.TemporaryDirectory() as tmp:
        meta = write_meta(Path(tmp), rows, "\r\n" if crlf else "\n")
        block = 256 if tiny_blocks else None
        with mock.patch.object(umls_module, "_BLOCK_SIZE", block or umls_module._BLOCK_SIZE):
            if not expected:
                try:
                    load_umls(meta, map_retired=False)
                except InputFormatError as error:
                    assert "no names left" in str(error)
                    return
                raise AssertionError("expected 'no names left'")
            kb = load_umls(meta, map_retired=False)
    got = {kb.concept_ids[i]: [kb.name_list[j] for j in kb.names_of(i)] for i in range(kb.n_concepts)}
    assert got == expected
    assert kb.preferred_names == [names[0] for _, names in sorted(expected.items())]


# --------------------------------------------------------------------------- fast == slow
corrupt_line = st.one_of(
    st.just(""),
    st.just("C0000001|ENG|broken|"),
    st.builds(lambda r: rrf_line(r, 1).replace("|ENG|", "|ENG|Q|", 1), row),
    st.builds(lambda r: rrf_line(r, 1)[:-1], row),
    st.builds(lambda r: "X" + rrf_line(r, 1)[1:], row),
    st.builds(lambda r: rrf_line(r, 1).replace(f"|{r['suppress']}||", "|Z||"), row),
    st.builds(lambda r: rrf_line(r, 1) + "extra|", row),
)


@SETTINGS
@given(
    lines=st.lists(st.one_of(row.map(lambda r: rrf_line(r, 1)), corrupt_line), min_size=1, max_size=40),
    bad_bytes=st.booleans(),
    block=st.sampled_from([128, 512, 1 << 20]),
    resume=st.sampled_from([1, 3, 10_000]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_block_reader_and_line_reader_agree(lines, bad_bytes, block, resume, newline):
    """Same rows, line numbers and skip counts, however blocks fall and the readers hand over."""
    data = (newline.join(lines) + newline).encode("utf-8")
    if bad_bytes and len(lines) > 2:
        data = data.replace(b"|ENG|", b"|E\xffG|", 1)
    columns = list(_MRCONSO_CHECKS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "MRCONSO.RRF"
        path.write_bytes(data)
        fast_report, slow_report = SkipReport(lenient=True), SkipReport(lenient=True)
        with mock.patch.object(umls_module, "_RESUME_AFTER", resume):
            fast = list(read_rrf(path, MRCONSO, columns, _MRCONSO_CHECKS, fast_report, block_size=block))
        slow = list(_read_slow(path, MRCONSO, columns, _MRCONSO_CHECKS, slow_report, _Segment(1, 0), 1, None))

    def flatten(batches):
        if not batches:
            return [], np.zeros(0, dtype=np.int64)
        rows = [r for batch, _ in batches for r in batch.to_pylist()]
        return rows, np.concatenate([lines for _, lines in batches])

    fast_rows, fast_lines = flatten(fast)
    slow_rows, slow_lines = flatten(slow)
    assert fast_rows == slow_rows
    assert np.array_equal(fast_lines, slow_lines)
    assert fast_report.total == slow_report.total == len(lines) - len(slow_rows)


# --------------------------------------------------------------------------- corruption
base_rows = st.lists(row, min_size=3, max_size=20).map(
    lambda rows: [dict(r, lat="ENG", suppress="N") if i < 3 else r for i, r in enumerate(rows)]
)
mutation = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "truncate"]),
    st.integers(0, 10**6),
    st.binary(min_size=1, max_size=3),
)


def mutate(data: bytes, kind: str, position: int, blob: bytes) -> bytes:
    position %= len(data)
    if kind == "delete":
        return data[:position] + data[position + len(blob) :]
    if kind == "insert":
        return data[:position] + blob + data[position:]
    if kind == "replace":
        return data[:position] + blob + data[position + len(blob) :]
    return data[:position]


@SETTINGS
@given(rows=base_rows, mutations=st.lists(mutation, min_size=1, max_size=3))
def test_corrupted_rrf_raises_input_format_error_with_a_line(rows, mutations):
    with tempfile.TemporaryDirectory() as tmp:
        meta = write_meta(Path(tmp), rows)
        path = meta / "MRCONSO.RRF"
        data = path.read_bytes()
        for kind, position, blob in mutations:
            data = mutate(data, kind, position, blob) or b"\n"
        path.write_bytes(data)
        try:
            kb = load_umls(meta, map_retired=False)
        except InputFormatError as error:
            # a mutated CUI may leave MRSTY.RRF without a row for any concept: an MRSTY error
            assert error.path == str(path) or (error.path == str(meta / "MRSTY.RRF") and "none of its" in str(error))
            assert isinstance(error.line, int) and f"{Path(error.path).name}:{error.line}:" in str(error)
            return
        assert kb.n_concepts >= 1
        # lenient mode never raises for line problems
        report = SkipReport(lenient=True)
        try:
            load_umls(meta, map_retired=False, report=report)
        except InputFormatError as error:
            assert any(text in error.message for text in ("no names left", "no valid row", "none of its"))


# --------------------------------------------------------------------------- MEDIC
medic_name = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="|"),
    min_size=1,
    max_size=15,
).filter(lambda s: s.strip() == s and html.unescape(s).strip() == html.unescape(s) != "")
concept = st.fixed_dictionaries(
    {
        "alt": st.lists(st.integers(100000, 999999).map(str), max_size=2, unique=True),
        "names": st.lists(medic_name, min_size=1, max_size=5),
        "escape": st.booleans(),
    }
)


@SETTINGS
@given(concepts=st.lists(concept, min_size=1, max_size=15), crlf=st.booleans())
def test_medic_round_trip(concepts, crlf):
    lines = []
    for i, c in enumerate(concepts):
        names = [html.escape(n, quote=True) if c["escape"] else n for n in c["names"]]
        lines.append("|".join([f"D{i:06d}", *c["alt"]]) + "||" + "|".join(names))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dict.txt"
        path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode("utf-8"))
        kb = load_medic(path)
    assert kb.concept_ids == [f"MESH:D{i:06d}" for i in range(len(concepts))]  # MeSH ids with their namespace
    assert [kb.resolve(f"D{i:06d}") for i in range(len(concepts))] == list(range(len(concepts)))
    for i, c in enumerate(concepts):
        unescaped = [html.unescape(n) if not c["escape"] else n for n in c["names"]]
        want = list(dict.fromkeys(n.strip() for n in unescaped))
        assert [kb.name_list[j] for j in kb.names_of(i)] == want
        assert kb.preferred_names[i] == want[0]
        assert kb.resolve(f"MESH:D{i:06d}") == i
    first_claim: dict[str, int] = {}
    for i, c in enumerate(concepts):
        for alt in c["alt"]:
            first_claim.setdefault(alt, i)
    for alt, index in first_claim.items():
        assert kb.resolve(alt) == index and kb.resolve(f"OMIM:{alt}") == index


@SETTINGS
@given(concepts=st.lists(concept, min_size=2, max_size=10), mutations=st.lists(mutation, min_size=1, max_size=3))
def test_corrupted_medic_raises_input_format_error_with_a_line(concepts, mutations):
    text = "\n".join(f"D{i:06d}||" + "|".join(c["names"]) for i, c in enumerate(concepts)) + "\n"
    data = text.encode("utf-8")
    for kind, position, blob in mutations:
        data = mutate(data, kind, position, blob) or b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dict.txt"
        path.write_bytes(data)
        try:
            load_medic(path)
        except InputFormatError as error:
            assert error.line is not None or "no concepts" in error.message
            assert error.line is None or f"dict.txt:{error.line}:" in str(error)
