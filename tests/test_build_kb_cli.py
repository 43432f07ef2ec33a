"""``xenc build-kb`` -> ``build-index`` -> ``mine --cross-fit-folds 4`` on a KB built from a corpus, CLI only.

Real data: the first 300 sentences of the bundled MedMentions dev slice (token BIO, no terminology),
split 80/20 into train/dev blocks. Most MedMentions concepts occur in one document only, so in a
cross-fitting fold many concepts lose every name (the README recipe used to crash on them with an
IndexError): they are no candidates in that fold, and mining counts and reports them.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.config import CorpusConfig
from xenc_toolkit.corpora import load_corpus, mentions_by_split
from xenc_toolkit.kb.model import KnowledgeBase
from xenc_toolkit.mining.folds import document_folds
from xenc_toolkit.mining.pairs import load_candidate_lists, load_mining_report

runner = CliRunner()
FOLDS = 4
SEED = 42


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def run(tmp_path_factory, medmentions_bio, quickstart_types, tiny_st):
    root = tmp_path_factory.mktemp("build-kb")
    corpus = [
        "--corpus-path",
        medmentions_bio,
        "--corpus-bio-split",
        "train=0.8,dev=0.2",
        "--corpus-types-file",
        quickstart_types,
    ]
    result = invoke("build-kb", *corpus, "--output-dir", root / "kb", "-q")
    assert result.exit_code == 0, result.output
    result = invoke(
        "build-index",
        "--kb-path",
        root / "kb",
        "--encoder-model",
        tiny_st,
        "--encoder-device",
        "cpu",
        "--output-dir",
        root / "index",
        "-q",
    )
    assert result.exit_code == 0, result.output
    result = invoke(
        "mine",
        "--index-dir",
        root / "index",
        *corpus,
        "--splits",
        "train,dev",
        "--cross-fit-folds",
        FOLDS,
        "--candidates-n-candidates",
        8,
        "--output-dir",
        root / "pairs",
        "-q",
    )
    assert result.exit_code == 0, result.output
    mentions = mentions_by_split(
        load_corpus(
            CorpusConfig(path=medmentions_bio, bio_split={"train": 0.8, "dev": 0.2}, types_file=quickstart_types)
        )
    )
    return root, mentions


def test_the_kb_is_the_training_mentions_surface_forms(run):
    root, mentions = run
    kb = KnowledgeBase.load(root / "kb")
    single = [m for m in mentions["train"] if len(m.gold_ids) == 1]
    assert kb.n_concepts == len({m.gold_ids[0] for m in single})
    assert kb.n_names == len({(m.gold_ids[0], m.surface_text) for m in single})
    assert int(kb.name_mentions.sum()) == len(single)  # every name row knows how many mentions carried it
    assert not kb.name_in_dictionary.any()
    dev_only = {g for m in mentions["dev"] for g in m.gold_ids} - {m.gold_ids[0] for m in single}
    assert dev_only and not any(kb.resolve(g) is not None for g in dev_only)  # nothing from the dev block


def test_cross_fitting_counts_the_concepts_a_fold_leaves_without_names(run):
    root, mentions = run
    report = load_mining_report(root / "pairs")
    train = [m for m in mentions["train"]]
    folds = document_folds(train, FOLDS, SEED)
    # concepts named by single-gold mentions of one fold only lose every name in that fold's KB
    folds_of_concept: dict[str, set[int]] = defaultdict(set)
    for f, fold in enumerate(folds):
        for m in fold:
            if len(m.gold_ids) == 1:
                folds_of_concept[m.gold_ids[0]].add(f)
    lonely = {f: {c for c, fs in folds_of_concept.items() if fs == {f}} for f in range(FOLDS)}
    held_out = report["cross_fitted"]["held_out"]
    assert [h["concepts_without_names"] for h in held_out] == [len(lonely[f]) for f in range(FOLDS)]
    expected_mentions = sum(1 for f, fold in enumerate(folds) for m in fold if set(m.gold_ids) & lonely[f])
    assert expected_mentions > 0
    assert report["splits"]["train"]["gold_without_names"] == expected_mentions
    assert [r["gold_without_names"] for r in report["splits"]["train"]["folds"]] == [
        sum(1 for m in fold if set(m.gold_ids) & lonely[f]) for f, fold in enumerate(folds)
    ]


def test_every_training_mention_whose_gold_survives_has_its_gold_in_its_list(run):
    root, mentions = run
    lists = load_candidate_lists(root / "pairs", "train")
    report = load_mining_report(root / "pairs")["splits"]["train"]
    with_gold = sum(1 for labels in lists["labels"] if any(labels))
    linkable = report["mentions"] - report["gold_not_in_kb"] - report["unlinkable"]
    assert with_gold == linkable > 0
    assert report["pairs"]["positive"] == linkable


def test_build_kb_refuses_evaluation_splits(tmp_path, medmentions_bio):
    result = invoke(
        "build-kb",
        "--corpus-path",
        medmentions_bio,
        "--corpus-bio-split",
        "train=0.8,dev=0.2",
        "--splits",
        "train,dev",
        "--output-dir",
        tmp_path / "kb",
    )
    assert result.exit_code == 2
    assert "dev" in result.output and "evaluation split" in result.output
    assert not (tmp_path / "kb").exists()
