"""Bad and degenerate input through the ``xenc`` command line.

Each case runs the real command (typer's CliRunner on ``xenc_toolkit.cli.main.app``) and checks
what a user sees: exit code 2, one ``error:`` line, no traceback, the file and line named, and text
that looks like rich markup (``[bold]``, ``[/]``) printed exactly as it is. Degenerate but valid
input (an empty ``xenc link`` file) gives an empty output and exit code 0.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app

DATA = Path(__file__).parent / "data"
META = DATA / "umls" / "META"
TSV_KB = DATA / "dictionaries" / "sample.tsv"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "120"})


def single_error(result, *expected: str) -> str:
    """The one line of a failed command; it holds every ``expected`` string verbatim."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.fixture()
def markup_dir(tmp_path) -> Path:
    """A directory whose name looks like rich markup, closing tags included."""
    directory = tmp_path / "in[bold]put]" / "x[/]y[red]"
    directory.mkdir(parents=True)
    return directory


def stats(corpus: Path, *more):
    return invoke("stats", "--corpus-path", corpus, *more, "-q")


# --------------------------------------------------------------------------- markup-looking text
def test_markup_in_paths_is_printed_verbatim(markup_dir):
    kb = markup_dir / "kb.tsv"
    kb.write_text("id\tname\nC0000001\tAspirin\nC0000002\n", encoding="utf-8")
    result = invoke("build-index", "--kb-path", kb, "--output-dir", markup_dir / "index", "-q")
    single_error(result, f"{kb}:3: 1 tab-separated field(s)")
    assert not (markup_dir / "index").exists()


def test_markup_in_file_lines_is_printed_verbatim(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("[bold]not a corpus[/] [/] ]\n", encoding="utf-8")
    single_error(stats(corpus), f"{corpus}:1:", "'[bold]not a corpus[/] [/] ]'")


def test_markup_in_a_missing_config_path(tmp_path):
    config = tmp_path / "[red]train[/].yaml"
    single_error(invoke("train", "--config", config), f"{config}: config file not found")


def test_log_and_tables_print_user_text_verbatim(capsys):
    from xenc_toolkit.cli import render
    from xenc_toolkit.utils import progress

    text = "loading /data/[bold]x[/]/MRCONSO.RRF [/] :smile:"
    was_quiet = progress.is_quiet()
    progress.set_quiet(False)
    try:
        progress.log(text, style="yellow")
        progress.log(text)
        with progress.progress_bar("reading [/]kb.tsv", total=1) as bar:  # a description with markup
            bar.advance()
    finally:
        progress.set_quiet(was_quiet)
    render.key_values("summary", [("directory", "/out/[bold]idx[/] [/]")])
    captured = capsys.readouterr()
    assert captured.err.count(text) == 2
    assert "/out/[bold]idx[/] [/]" in captured.out


# --------------------------------------------------------------------------- encodings
def test_non_utf8_link_input_names_file_and_line(tmp_path):
    path = tmp_path / "mentions.txt"
    path.write_bytes(b"aspirin\ncaf\xe9 au lait spots\n")
    # the input is read before the model is loaded: a bad file fails fast, whatever the model
    result = invoke("link", "--input", path, "--model-dir", tmp_path / "model", "--index-dir", tmp_path / "index")
    single_error(result, f"{path}:2: not valid UTF-8", "0xe9")


def test_non_utf8_config_names_file_and_line(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_bytes(b"loss: listwise\nbase_model: caf\xe9\n")
    single_error(invoke("train", "-c", path), f"{path}:2: not valid UTF-8")


def test_non_utf8_dictionary_line_and_lenient_skip(tmp_path):
    kb = tmp_path / "medic.txt"
    kb.write_bytes(b"\xef\xbb\xbfD001||Asthma|Bronchial asthma\nD002||Caf\xe9 au lait spots\nD003||Gout\n")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"doc_id": "1", "text": "asthma", "gold_ids": ["D001"]}\n', encoding="utf-8")
    single_error(stats(corpus, "--kb-path", kb), f"{kb}:2: not valid UTF-8")
    result = invoke("stats", "--corpus-path", corpus, "--kb-path", kb, "--kb-lenient", "--kb-cache-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert "skipped 1 bad line(s)" in result.output and f"{kb}:2:" in result.output
    # the byte-order mark is not part of the first id: the mention's gold D001 is covered
    assert "1 / 1" in result.output


def test_bom_in_dictionaries_types_and_link_input(tmp_path):
    from xenc_toolkit.corpora import load_types_file
    from xenc_toolkit.kb import load_medic, load_tsv
    from xenc_toolkit.linking.io import read_link_input

    bom = b"\xef\xbb\xbf"
    (tmp_path / "kb.tsv").write_bytes(bom + TSV_KB.read_bytes())
    assert load_tsv(tmp_path / "kb.tsv").concept_ids == load_tsv(TSV_KB).concept_ids
    medic = DATA / "dictionaries" / "medic_sample.txt"
    (tmp_path / "medic.txt").write_bytes(bom + medic.read_bytes())
    assert load_medic(tmp_path / "medic.txt").concept_ids == load_medic(medic).concept_ids
    types = DATA / "corpora" / "cui_to_tuis.json"
    (tmp_path / "types.json").write_bytes(bom + types.read_bytes())
    assert load_types_file(tmp_path / "types.json") == load_types_file(types)
    for name, data in (
        ("m.txt", b"aspirin\r\n"),
        ("m.tsv", b"aspirin\tcontext\r\n"),
        ("m.jsonl", b'{"mention": "aspirin"}'),
    ):
        (tmp_path / name).write_bytes(bom + data)
        assert [r.mention for r in read_link_input(tmp_path / name)] == ["aspirin"], name


def test_bom_before_a_bad_rrf_line(tmp_path):
    """The line-by-line RRF reader (which takes over at a bad line) must not see the BOM either."""
    from xenc_toolkit.errors import SkipReport
    from xenc_toolkit.kb import load_umls

    meta = Path(shutil.copytree(META, tmp_path / "META"))
    lines = (META / "MRCONSO.RRF").read_bytes().split(b"\n")
    lines[2] = b"C0000039|ENG|broken"
    (meta / "MRCONSO.RRF").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines))
    report = SkipReport(lenient=True)
    kb = load_umls(meta, map_retired=False, suppress=(), report=report)
    assert report.counts == {"MRCONSO.RRF: wrong number of fields": 1}
    assert "1,2-Dipalmitoylphosphatidylcholine" in kb.name_list  # line 1, after the BOM
    assert kb.resolve("C0000039") is not None


# --------------------------------------------------------------------------- empty and degenerate input
@pytest.mark.parametrize(
    ("name", "option", "expected"),
    [
        ("corpus.txt", None, ":1: the corpus file is empty"),
        ("kb.tsv", "--kb-path", ":1: the dictionary file is empty"),
        ("medic.txt", "--kb-path", ":1: the dictionary file is empty"),
        ("types.json", "--corpus-types-file", ":1: the types file is empty"),
        ("pmids.txt", "--corpus-split-files", ":1: the split file is empty"),
    ],
)
def test_empty_input_files(tmp_path, name, option, expected):
    empty = tmp_path / name
    empty.write_bytes(b"")
    corpus = DATA / "corpora" / "medmentions_sample.pubtator"
    if option is None:
        result = stats(empty)
    elif option == "--corpus-split-files":
        result = stats(corpus, option, f"train={empty}")
    else:
        result = stats(corpus, option, empty)
    single_error(result, f"{empty}{expected}")


def test_blank_dictionary_names_its_lines(tmp_path):
    kb = tmp_path / "kb.tsv"
    kb.write_text("id\tname\n\n  \n", encoding="utf-8")
    result = invoke("build-index", "--kb-path", kb, "--output-dir", tmp_path / "index", "-q")
    single_error(result, f"{kb}:3: no concepts found in 3 line(s)")


@pytest.mark.parametrize("content", ["", "C9999999|T047|B2.2.1.2.1|Disease or Syndrome|AT1|256|\n"])
def test_mrsty_that_types_no_concept(tmp_path, content):
    meta = Path(shutil.copytree(META, tmp_path / "META"))
    (meta / "MRSTY.RRF").write_text(content, encoding="utf-8")
    result = invoke("build-index", "--kb-path", meta, "--kb-cache-dir", tmp_path / "cache", "-q")
    line = single_error(result, f"{meta / 'MRSTY.RRF'}:1:")
    assert ("empty" in line) if not content else ("none of its 1 rows" in line)


def test_kb_filtered_to_nothing(tmp_path):
    result = invoke("build-index", "--kb-path", TSV_KB, "--kb-semantic-types", "T191", "--kb-cache-dir", tmp_path, "-q")
    single_error(result, str(TSV_KB), "no concept left after the semantic filter", "T121")


def test_config_without_a_section_for_the_command(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("mine:\n  seed: 1\ntrain:\n  loss: listwise\n", encoding="utf-8")
    single_error(invoke("evaluate", "-c", path), f"{path}: no 'evaluate:' section", "sections: mine, train")


@pytest.fixture(scope="module")
def tsv_index(tmp_path_factory, tiny_st) -> Path:
    out = tmp_path_factory.mktemp("bad-input") / "index"
    result = invoke("build-index", "--kb-path", TSV_KB, "--encoder-model", tiny_st, "--output-dir", out, "-q")
    assert result.exit_code == 0, result.output
    return out


def test_mining_that_yields_no_pairs_fails_clearly(tmp_path, tsv_index):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"doc_id": "1", "text": "aspirin", "gold_ids": ["MESH:D001241"]}\n'
        '{"doc_id": "2", "text": "heart", "gold_ids": ["MESH:D006321"]}\n',
        encoding="utf-8",
    )
    (tmp_path / "train.txt").write_text("1\n")
    (tmp_path / "dev.txt").write_text("2\n")
    splits = f"train={tmp_path / 'train.txt'},dev={tmp_path / 'dev.txt'}"
    out = tmp_path / "pairs"
    mine = ["mine", "--index-dir", tsv_index, "--corpus-path", corpus, "--corpus-split-files", splits]
    mine += ["--output-dir", out, "-q"]
    result = invoke(*mine)
    # the provenance check stops it first: none of the corpus's gold ids is in the index's KB
    message = single_error(result, "MESH:D001241", "--allow-mismatch")
    assert str(tsv_index) in message
    assert not out.exists()
    # run anyway: mining then finds no gold candidate, and says so instead of writing empty pairs
    result = invoke(*mine, "--allow-mismatch")
    assert result.exit_code == 2, result.output
    assert "split 'train' produced no pairs" in result.output and "id_prefix" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_train_refuses_an_empty_split(tmp_path, tiny_pipeline, tiny_bert):
    from xenc_toolkit.mining.pairs import load_candidate_lists, load_pairs

    pairs = tmp_path / "pairs"  # as an older xenc mine left it: a train split without rows
    shutil.copytree(tiny_pipeline["pairs"], pairs)
    emptied = load_pairs(tiny_pipeline["pairs"])
    emptied["train"] = emptied["train"].select([])
    shutil.rmtree(pairs / "train")
    emptied["train"].save_to_disk(str(pairs / "train"))
    assert len(load_pairs(pairs)["train"]) == 0 and len(load_candidate_lists(pairs, "dev")) > 0
    result = invoke(
        "train", "--pairs-dir", pairs, "--base-model", tiny_bert, "--output-dir", tmp_path / "m", "--loss", "bce", "-q"
    )
    single_error(result, f"{pairs}: split 'train' holds no pairs")


@pytest.mark.parametrize("suffix", [".txt", ".tsv", ".jsonl"])
def test_empty_link_input_gives_an_empty_output(tmp_path, tiny_model, tiny_pipeline, suffix):
    empty = tmp_path / f"mentions{suffix}"
    empty.write_bytes(b"\xef\xbb\xbf\n  \n" if suffix == ".tsv" else b"")
    common = ("link", "--model-dir", tiny_model, "--index-dir", tiny_pipeline["index"], "--input", empty)
    result = invoke(*common, "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    for output, expected in (
        ("out.jsonl", ""),
        ("out.tsv", "id\tmention\tconcept_id\tname\tprobability\tmargin\ttier\tnil_reason\n"),
    ):
        result = invoke(*common, "--output", tmp_path / output)
        assert result.exit_code == 0, result.output
        assert "no mentions to link" in result.output
        assert (tmp_path / output).read_text(encoding="utf-8") == expected


def test_lenient_link_input_skips_and_reports(tmp_path, tiny_model, tiny_pipeline):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"mention": "aspirin"}\n{"mention": 3}\nnot json\n{"mention": "heart attack"}\n')
    common = ("link", "--model-dir", tiny_model, "--index-dir", tiny_pipeline["index"], "--input", path)
    single_error(invoke(*common, "-q"), f"{path}:2: no non-empty 'mention' string")
    result = invoke(*common, "--lenient", "--output", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    assert "skipped 2 bad line(s)" in result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["id"], r["mention"]) for r in rows] == [("1", "aspirin"), ("4", "heart attack")]
