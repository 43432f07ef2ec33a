"""User text is printed as written (never rich markup); a BOM never reaches an id; invalid UTF-8 names its
line; an empty ``xenc link`` input is an empty, valid output (issue #20, classes of defects)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.errors import InputFormatError, SkipReport
from xenc_toolkit.kb.dictionary import load_medic, load_tsv
from xenc_toolkit.linking.io import read_link_input

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "300"})


@pytest.mark.parametrize("odd", ["[bold]odd]", "[/]", "a[red]b[/red]c", "[link=x]y"])
def test_errors_print_user_paths_verbatim(tmp_path, odd):
    index_dir = tmp_path / odd / "index"
    result = invoke("mine", "--index-dir", index_dir, "--corpus-path", tmp_path / "c.txt")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert str(index_dir) in result.output.replace("\n", "")


def test_help_shows_registered_choices_as_written():
    result = invoke("train", "--help")
    assert "[bce|listwise|lambda]" in result.output
    result = invoke("build-index", "--help")
    assert "[auto|umls|saved|tsv|medic]" in result.output


def test_a_bom_never_becomes_part_of_the_first_id(tmp_path):
    tsv = tmp_path / "kb.tsv"
    tsv.write_bytes(b"\xef\xbb\xbfC0004057\tAspirin\nC0027051\tMyocardial Infarction\n")
    kb = load_tsv(tsv)
    assert kb.resolve("C0004057") is not None and kb.n_concepts == 2
    medic = tmp_path / "medic.txt"
    medic.write_bytes(b"\xef\xbb\xbfD001249||Asthma|Bronchial Asthma\nD003920||Diabetes Mellitus\n")
    assert load_medic(medic).resolve("D001249") is not None
    text = tmp_path / "mentions.txt"
    text.write_bytes(b"\xef\xbb\xbfaspirin\nheart attack\n")
    assert [r.mention for r in read_link_input(text)] == ["aspirin", "heart attack"]


def test_invalid_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "mentions.tsv"
    path.write_bytes(b"mention\tcontext\naspirin\ttook aspirin\nbad \xff\xfe mention\t\n")
    with pytest.raises(InputFormatError) as error:
        read_link_input(path)
    assert error.value.line == 3 and str(path) in str(error.value)
    medic = tmp_path / "medic.txt"
    medic.write_bytes(b"D001249||Asthma\nD003920||Diab\xe9tes\n")
    report = SkipReport(lenient=True)
    kb = load_medic(medic, report)
    assert kb.n_concepts == 1 and report.total == 1  # counted, reported, not silently dropped
    with pytest.raises(InputFormatError):
        load_medic(medic)


def test_link_of_an_empty_input_is_an_empty_output(tmp_path, tiny_model, tiny_pipeline):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    out = tmp_path / "linked.jsonl"
    result = invoke(
        "link", "--model-dir", tiny_model, "--index-dir", tiny_pipeline["index"], "--input", empty, "--output", out
    )
    assert result.exit_code == 0, result.output
    assert out.exists() and out.read_text().strip() == ""
    missing = invoke("link", "--model-dir", tmp_path / "nope", "--index-dir", tiny_pipeline["index"], "--input", empty)
    assert missing.exit_code == 2 and "nope" in missing.output


def test_link_output_carries_nil_reason_column(tmp_path, tiny_model, tiny_pipeline):
    mentions = tmp_path / "m.txt"
    mentions.write_text(tiny_pipeline["kb"].name_list[0] + "\n")
    out = tmp_path / "linked.tsv"
    result = invoke(
        "link", "--model-dir", tiny_model, "--index-dir", tiny_pipeline["index"], "--input", mentions, "--output", out
    )
    assert result.exit_code == 0, result.output
    header = out.read_text().splitlines()[0].split("\t")
    assert header[-1] == "nil_reason" and "tier" in header
    json.dumps(header)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_link_output_format_follows_the_extension(tmp_path, suffix):
    import csv

    import pyarrow.parquet as pq

    from xenc_toolkit.linking.io import LinkInput, write_link_output
    from xenc_toolkit.linking.linker import LinkResult

    records = [LinkInput("1", "aspirin, daily"), LinkInput("2", "heart\tattack")]
    results = [
        LinkResult("aspirin, daily", "C0004057", "Aspirin", 0.97, 0.9, "high"),
        LinkResult("heart\tattack", None, None, 0.05, 0.01, "low", nil_reason="below the NIL threshold"),
    ]
    path = write_link_output(records, results, tmp_path / f"out{suffix}")
    if suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    elif suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    else:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="," if suffix == ".csv" else "\t"))
    assert [r["mention"] for r in rows] == ["aspirin, daily", "heart\tattack"]  # quoted, not split
    assert rows[0]["concept_id"] == "C0004057" and not rows[1]["concept_id"]
    assert "NIL" in rows[1]["nil_reason"]


def test_link_format_flag_overrides_the_extension(tmp_path, tiny_model, tiny_pipeline):
    """`--format csv` (alias of --output-format) writes CSV whatever the output file is called."""
    import csv

    mentions = tmp_path / "m.txt"
    mentions.write_text("\n".join(tiny_pipeline["kb"].name_list[:2]) + "\n")
    out = tmp_path / "linked.out"
    args = ["link", "--model-dir", tiny_model, "--index-dir", tiny_pipeline["index"], "--input", mentions]
    result = invoke(*args, "--output", out, "--format", "csv")
    assert result.exit_code == 0, result.output
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["mention"] for r in rows] == tiny_pipeline["kb"].name_list[:2]
    assert invoke(*args, "--output", out, "--format", "xml").exit_code == 2
