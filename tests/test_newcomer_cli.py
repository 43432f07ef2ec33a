"""The frictions of a first day with the CLI: stats from a pipeline config before build-index, --help at the terminal's width with each default once,
--quiet/--verbose, the option syntax of map and list flags, one corpus file per split, namespaced MEDIC ids, readable
quickstart names, the TF-IDF matrix saved beside the index and the CPU training heads-up."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.config import COMMAND_CONFIGS

DATA = Path(__file__).resolve().parent / "data"
runner = CliRunner()


def invoke(*args, columns: str = "200"):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": columns})


# --------------------------------------------------------------------------- stats -c
def test_stats_takes_corpus_and_kb_from_a_pipeline_config_without_a_stats_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the index_dir "idx" does not exist
    config = tmp_path / "pipeline.yaml"
    corpus = {
        "path": str(DATA / "corpora" / "medmentions_sample.pubtator"),
        "split_files": {
            "train": str(DATA / "corpora" / "medmentions_pmids_train.txt"),
            "dev": str(DATA / "corpora" / "medmentions_pmids_dev.txt"),
        },
    }
    config.write_text(
        yaml.safe_dump(
            {
                "build-index": {"kb": {"path": str(DATA / "umls" / "META")}, "output_dir": "idx"},
                "mine": {"corpus": corpus, "index_dir": "idx"},
                "train": {"loss": "listwise"},
            }
        )
    )
    out = tmp_path / "stats.json"
    result = invoke("stats", "-c", config, "--output", out, "--kb-cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    stats = json.loads(out.read_text())
    assert stats["kb_summary"]["concepts"] > 0
    assert "idx holds no index yet: KB coverage against" in result.output  # before build-index: its KB


# --------------------------------------------------------------------------- --help
def _help(command: str, columns: str) -> str:
    result = invoke(command, "--help", columns=columns)
    assert result.exit_code == 0
    return result.output


@pytest.mark.parametrize("command", sorted(COMMAND_CONFIGS))
def test_help_shows_every_flag_whole_and_each_default_once(command):
    from xenc_toolkit.cli.options import flatten

    text = _help(command, "200")
    assert "…" not in text
    for spec in flatten(COMMAND_CONFIGS[command]):
        assert re.search(rf"(?<![\w-]){re.escape(spec.flag)}(?![\w-])", text), spec.flag
        assert spec.help.lower().count("default") <= 1, (spec.flag, spec.help)
        assert "(default: None)" not in spec.help
    assert "--verbose" in text and "--quiet" in text


def test_help_in_a_narrow_terminal_folds_flags_instead_of_cutting_them():
    text = _help("mine", "80")
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_help_width_follows_the_terminal(monkeypatch):
    from xenc_toolkit.cli import main as cli_main

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(cli_main.os, "get_terminal_size", lambda fd: (_ for _ in ()).throw(OSError()))
    assert cli_main._help_width() == 200  # no terminal (a pipe): wide, not 80
    monkeypatch.setattr(cli_main.os, "get_terminal_size", lambda fd: __import__("os").terminal_size((132, 40)))
    assert cli_main._help_width() == 132


def test_quiet_and_verbose_together_is_an_error():
    result = invoke("stats", "--quiet", "--verbose")
    assert result.exit_code == 2 and "--quiet and --verbose" in result.output


def test_library_chatter_is_silenced_until_verbose():
    import logging

    from xenc_toolkit.utils.library_logs import configure

    configure(verbose=False)
    assert logging.getLogger("transformers").getEffectiveLevel() >= logging.ERROR
    assert logging.getLogger("sentence_transformers").getEffectiveLevel() >= logging.ERROR
    configure(verbose=True)
    assert logging.getLogger("transformers").getEffectiveLevel() == logging.WARNING
    configure(verbose=False)


# --------------------------------------------------------------------------- option syntax and messages
def test_map_and_list_options_take_key_value_pairs_or_the_configs_yaml_syntax():
    from xenc_toolkit.cli.options import flatten, overrides_from_kwargs
    from xenc_toolkit.config import MineConfig
    from xenc_toolkit.errors import ConfigError

    specs = flatten(MineConfig)
    for given in ("train=a.txt,dev=b.txt", "{train: a.txt, dev: b.txt}"):
        overrides = overrides_from_kwargs(specs, {"corpus__split_files": given, "corpus__files": given})
        assert overrides["corpus.split_files"] == overrides["corpus.files"] == {"train": "a.txt", "dev": "b.txt"}
    for given in ("train,dev", "[train, dev]"):
        assert overrides_from_kwargs(specs, {"splits": given})["splits"] == ["train", "dev"]
    with pytest.raises(ConfigError, match="--corpus-split-files"):
        overrides_from_kwargs(specs, {"corpus__split_files": "{train: [unclosed"})
    # the examples that help texts show parse
    for spec in specs:
        for example in re.findall(r"e\.g\. (\S+=\S+)", spec.help):
            overrides_from_kwargs(specs, {spec.param: example.rstrip(")")})


def test_a_verbose_detail_shows_only_under_verbose(capsys):
    from xenc_toolkit.utils import progress

    try:
        progress.set_quiet(False)
        progress.set_verbose(False)
        progress.log("a detail [not markup]", verbose=True)
        progress.log("a status line")
        progress.set_verbose(True)
        progress.log("a detail [shown]", verbose=True)
    finally:
        progress.set_verbose(False)
    err = capsys.readouterr().err
    assert "a detail [not markup]" not in err
    assert "a status line" in err and "a detail [shown]" in err


# --------------------------------------------------------------------------- corpus.files
def _split_ncbi(tmp_path) -> dict[str, Path]:
    blocks = [b for b in (DATA / "corpora" / "ncbi_sample.txt").read_text().split("\n\n") if b.strip()]
    blocks = list({b.strip().split("|", 1)[0]: b.strip() for b in reversed(blocks)}.values())[::-1]  # one per PMID
    files = {}
    for split, part in (("train", blocks[:3]), ("dev", blocks[3:4]), ("test", blocks[4:])):
        files[split] = tmp_path / f"{split}.txt"
        files[split].write_text("\n\n".join(part) + "\n\n")
    return files


def test_one_corpus_file_per_split(tmp_path):
    from xenc_toolkit.commands.inputs import load_corpus
    from xenc_toolkit.config import StatsConfig, load_config

    files = _split_ncbi(tmp_path)
    flag = ",".join(f"{split}={path}" for split, path in files.items())
    cfg = load_config(StatsConfig, None, {"corpus.files": dict(item.split("=") for item in flag.split(","))})
    mentions = load_corpus(cfg.corpus, "stats")
    by_split = Counter(m.split for m in mentions)
    assert set(by_split) == {"train", "dev", "test"} and all(by_split.values())
    docs = {split: {m.doc_id for m in mentions if m.split == split} for split in by_split}
    assert not (docs["train"] & docs["test"]) and not (docs["train"] & docs["dev"])
    result = invoke("stats", "--corpus-files", flag, "--kb-path", DATA / "dictionaries" / "medic_sample.txt", "-q")
    assert result.exit_code == 0, result.output


def test_a_document_in_two_split_files_is_an_error(tmp_path):
    files = _split_ncbi(tmp_path)
    files["test"].write_text(files["train"].read_text())  # the training documents again, as test
    flag = ",".join(f"{split}={path}" for split, path in files.items())
    result = invoke("stats", "--corpus-files", flag)
    assert result.exit_code == 2
    assert "is also in split 'train'" in result.output and str(files["test"]) in result.output
    result = invoke("stats", "--corpus-files", flag, "--corpus-path", files["train"])
    assert result.exit_code == 2 and "--corpus-files" in result.output and "--corpus-path" in result.output


def test_bio_files_per_split_keep_their_sentences_apart(tmp_path):
    from xenc_toolkit.corpora import load_corpus
    from xenc_toolkit.settings import CorpusConfig

    sample = DATA / "corpora" / "medmentions_bio_sample.tsv"
    mentions = load_corpus(CorpusConfig(files={"train": sample, "test": sample}, lenient=True))
    ids = [m.mention_id for m in mentions]
    assert len(ids) == len(set(ids)) and {m.doc_id.split("/")[0] for m in mentions} == {"train", "test"}


# --------------------------------------------------------------------------- MEDIC ids
def test_medic_ids_carry_their_namespace_and_bare_gold_ids_still_match():
    from xenc_toolkit.corpora import read_pubtator
    from xenc_toolkit.evaluation.corpus_stats import corpus_stats
    from xenc_toolkit.kb import load_medic

    kb = load_medic(DATA / "dictionaries" / "medic_sample.txt")
    ids = set(kb.concept_ids)
    assert {"MESH:D001249", "MESH:D006973", "OMIM:260350", "OMIM:607677"} <= ids
    assert not any(re.fullmatch(r"[CD]\d{6}|\d{6}", i) for i in ids)  # no bare MeSH or OMIM id left
    assert kb.resolve("D001249") == kb.resolve("MESH:D001249") == kb.resolve("600807")  # alt OMIM id
    mentions = [m for d in read_pubtator(DATA / "corpora" / "ncbi_sample.txt") for m in d.mentions]
    stats = corpus_stats(mentions, kb)
    kb_part = stats.get("kb") or stats
    assert all(cid not in ("MESH:" + src) for src, cid in kb_part.get("mapped_examples", []))


# --------------------------------------------------------------------------- quickstart names
def test_quickstart_kb_prefers_full_names_over_abbreviations(mm_kb):
    from xenc_toolkit.kb.readable_names import is_abbreviation_of

    preferred = mm_kb.preferred_names
    names_of: dict[int, list[str]] = {}
    for row, concept in enumerate(mm_kb.name_concept.tolist()):
        names_of.setdefault(concept, []).append(mm_kb.name_list[row])
    changed = 0
    for concept, names in names_of.items():
        name = preferred[concept]
        assert name in names
        assert not any(is_abbreviation_of(name, other) for other in names), (name, names)
        changed += name != names[0]
    assert changed > 0  # real MedMentions has concepts whose most frequent form is an abbreviation


def test_readable_name_is_deterministic():
    from xenc_toolkit.kb.readable_names import readable_name

    forms = {"mi": 5, "myocardial infarction": 2, "heart attack": 2}
    assert readable_name(forms) == "myocardial infarction"
    assert readable_name(dict(reversed(list(forms.items())))) == "myocardial infarction"
    assert readable_name({"copd": 3}) == "copd"


# --------------------------------------------------------------------------- xenc link
def test_tfidf_matrix_is_built_once_beside_the_index(tmp_path, tiny_pipeline, monkeypatch):
    import shutil

    import numpy as np

    from xenc_toolkit.retrieval import DenseIndex
    from xenc_toolkit.retrieval import tfidf as tfidf_module
    from xenc_toolkit.retrieval.candidate_generator import CandidateGenerator
    from xenc_toolkit.settings import CandidateConfig

    index_dir = shutil.copytree(tiny_pipeline["index"], tmp_path / "index", ignore=shutil.ignore_patterns("tfidf"))
    index = DenseIndex.load(index_dir)
    fits = []
    original = tfidf_module.TfidfIndex.__init__

    def counting(self, names, *args, **kwargs):
        if len(names) > 1:
            fits.append(len(names))
        original(self, names, *args, **kwargs)

    monkeypatch.setattr(tfidf_module.TfidfIndex, "__init__", counting)
    cfg = CandidateConfig(generator="tfidf", n_candidates=5)
    queries = ["aspirin", "heart attack", "cancer of the lung"]
    first = CandidateGenerator(index.kb, cfg, dense_index=index).tfidf.search(queries, 5)
    assert fits == [index.kb.n_names] and len(list((index_dir / "tfidf").iterdir())) == 1
    again = CandidateGenerator(index.kb, cfg, dense_index=DenseIndex.load(index_dir)).tfidf.search(queries, 5)
    assert fits == [index.kb.n_names]  # loaded, not refitted
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_allclose(first[0], again[0], rtol=1e-6)
    other = cfg.model_copy(update={"tfidf_ngram_min": 2})
    assert CandidateGenerator(index.kb, other, dense_index=index).tfidf.n == index.kb.n_names  # another entry
    assert len(fits) == 2 and len(list((index_dir / "tfidf").iterdir())) == 2


# --------------------------------------------------------------------------- CPU training heads-up
def test_training_on_cpu_logs_a_heads_up_with_an_estimate(tmp_path, tiny_bert, tiny_pipeline, monkeypatch):
    from xenc_toolkit.commands import train as run_module
    from xenc_toolkit.config import TrainConfig

    said = []
    monkeypatch.setattr(run_module, "log", lambda message, **kw: said.append(message))
    cfg = TrainConfig(
        pairs_dir=tiny_pipeline["pairs"],
        output_dir=tmp_path / "model",
        base_model=str(tiny_bert),
        max_length=32,
        batch_size=16,
        max_steps=2,
        dev_split="none",
        report_to=["none"],
    )
    run_module.train(cfg)
    line = next(m for m in said if m.startswith("training on the CPU"))
    assert re.search(r"about [\d.]+ s per step x 2 steps", line) and "GB of memory" in line and "GPU is advised" in line
