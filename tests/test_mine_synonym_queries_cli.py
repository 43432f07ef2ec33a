"""``xenc mine --synonym-queries N``: KB synonyms as extra training lists, through the CLI and api.mine.

Real-shaped data: a few NCBI-disease documents (train and dev by PMID) linked to a MEDIC subset
(their gold concepts and 200 more), indexed with the tiny random sentence-transformers BERT.
"""

from __future__ import annotations

import pytest
from candidate_lists import lists_of, same_columns
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.commands import mine as mine_command
from xenc_toolkit.config import EncoderConfig, IndexConfig, MineConfig, load_config
from xenc_toolkit.kb.model import KnowledgeBase
from xenc_toolkit.kb.normalize import normalize_name
from xenc_toolkit.mining.pairs import load_candidate_lists, load_mining_report, load_pairs
from xenc_toolkit.mining.synonyms import SYNONYM_DOC_PREFIX, synonym_queries
from xenc_toolkit.retrieval import DenseIndex
from xenc_toolkit.utils.io import read_json

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def data(ncbi_medic_slice, tmp_path_factory, tiny_st):
    root = tmp_path_factory.mktemp("synonym-cli")
    corpus, split_files, kb = ncbi_medic_slice(root, 6, 3)
    DenseIndex.build(kb, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), root / "index")
    common = [
        "--corpus-path",
        corpus,
        "--corpus-split-files",
        f"train={split_files['train']},dev={split_files['dev']}",
        "--candidates-n-candidates",
        8,
        "-q",
    ]
    plain = root / "runs" / "plain"
    result = invoke("mine", "--index-dir", root / "index", *common, "--output-dir", plain)
    assert result.exit_code == 0, result.output
    return {
        "root": root,
        "common": ["--index-dir", root / "index", *common],
        "corpus": {"corpus.path": str(corpus), "corpus.split_files": {k: str(v) for k, v in split_files.items()}},
        "plain": plain,
        "kb": KnowledgeBase.load(root / "index" / "kb"),
    }


def _rows(table: dict, start: int = 0, stop: int | None = None) -> dict:
    return {k: v[start:stop] for k, v in table.items()}


def _spy_builds(monkeypatch) -> list[dict]:
    """Record every DenseIndex.build call."""
    calls: list[dict] = []
    original = DenseIndex.build

    def build(kb, encoder_cfg, index_cfg, output_dir=None, encoder=None, seed=42):
        calls.append(
            {
                "n_names": kb.n_names,
                "encoder_cfg": encoder_cfg,
                "index_cfg": index_cfg,
                "output_dir": output_dir,
                "encoder": encoder,
            }
        )
        return original(kb, encoder_cfg, index_cfg, output_dir=output_dir, encoder=encoder, seed=seed)

    monkeypatch.setattr(DenseIndex, "build", staticmethod(build))
    return calls


def test_mine_help_shows_the_synonym_flags():
    result = invoke("mine", "--help")
    assert result.exit_code == 0
    for flag in ("--synonym-queries", "--synonym-folds", "--synonym-queries-per-concept", "--synonym-queries-folds"):
        assert flag in result.output, flag


def test_synonym_flags_reach_the_config(monkeypatch, tmp_path):
    seen: list[MineConfig] = []
    monkeypatch.setattr(mine_command, "mine", lambda cfg: seen.append(cfg) or {"splits": {}})
    result = invoke(
        "mine",
        "--synonym-queries",
        2,
        "--synonym-folds",
        3,
        "--synonym-queries-max-queries",
        40,
        "--no-synonym-queries-dictionary-only",
    )
    assert result.exit_code == 0, result.output
    sq = seen[-1].synonym_queries
    assert (sq.per_concept, sq.folds, sq.max_queries, sq.dictionary_only) == (2, 3, 40, False)
    # the long names of the generic mechanism work too, and the CLI overrides the YAML file
    path = tmp_path / "mine.yaml"
    path.write_text("synonym_queries:\n  per_concept: 1\n  folds: 5\n")
    assert invoke("mine", "-c", path, "--synonym-queries-per-concept", 3).exit_code == 0
    assert (seen[-1].synonym_queries.per_concept, seen[-1].synonym_queries.folds) == (3, 5)
    assert invoke("mine").exit_code == 0
    assert seen[-1].synonym_queries.per_concept == 0 and seen[-1].synonym_queries.folds == 4  # off by default
    for bad, field in ((("--synonym-queries", -1), "synonym_queries.per_concept"), (("--synonym-folds", 0), "folds")):
        result = invoke("mine", *bad)
        assert result.exit_code == 2 and field in result.output, result.output
    assert load_config(MineConfig, path).synonym_queries.per_concept == 1


def test_per_concept_zero_mines_exactly_as_a_plain_run(data, monkeypatch):
    calls = _spy_builds(monkeypatch)
    out = data["root"] / "runs" / "zero"
    result = invoke("mine", *data["common"], "--output-dir", out, "--synonym-queries", 0)
    assert result.exit_code == 0, result.output
    assert calls == []  # no fold index
    for split in ("train", "dev"):
        assert same_columns(lists_of(out, split), lists_of(data["plain"], split))
        assert same_columns(load_pairs(out)[split].to_dict(), load_pairs(data["plain"])[split].to_dict())
    assert "synonym_queries" not in load_mining_report(out)["splits"]["train"]


def test_synonym_queries_add_training_lists_mined_without_their_own_names(data, monkeypatch, encoder_loads):
    calls = _spy_builds(monkeypatch)
    out = data["root"] / "runs" / "synonyms"
    result = invoke("mine", *data["common"], "--output-dir", out, "--synonym-queries", 1, "--synonym-folds", 3)
    assert result.exit_code == 0, result.output

    kb = data["kb"]
    queries = synonym_queries(kb, per_concept=1, seed=MineConfig().seed)
    assert len(queries) > 20
    plain_train, train = lists_of(data["plain"], "train"), lists_of(out, "train")
    n_plain = len(plain_train["mention_id"])
    # the mentions' lists are as before, followed by exactly one list per synonym query
    assert len(train["mention_id"]) == n_plain + len(queries)
    assert same_columns(_rows(train, 0, n_plain), plain_train)
    added = _rows(train, n_plain)
    assert sorted(added["mention_id"]) == sorted(q.mention_id for q in queries)
    assert set(added["doc_id"]) == {SYNONYM_DOC_PREFIX}
    assert same_columns(lists_of(out, "dev"), lists_of(data["plain"], "dev"))  # evaluation lists untouched
    pairs, plain_pairs = load_pairs(out), load_pairs(data["plain"])
    assert same_columns(pairs["dev"].to_dict(), plain_pairs["dev"].to_dict())
    assert len(pairs["train"]) > len(plain_pairs["train"])
    assert set(pairs["train"]["mention_id"][len(plain_pairs["train"]) :]) <= set(added["mention_id"])

    # no synonym list finds its gold through the query's own string (every spelling is hidden)
    golds_found = 0
    for mention, gold_ids, ids, names, labels in zip(
        added["mention"],
        added["gold_ids"],
        added["candidate_ids"],
        added["candidate_names"],
        added["labels"],
        strict=True,
    ):
        for cid, name, label in zip(ids, names, labels, strict=True):
            if cid in gold_ids:
                assert normalize_name(name) != normalize_name(mention), (mention, name)
                golds_found += label == 1
    assert golds_found >= len(queries)  # each gold is in the list (retrieved or inserted), under another name

    report = load_mining_report(out)["splits"]["train"]
    plain_report = load_mining_report(data["plain"])["splits"]["train"]
    assert report["mentions"] == plain_report["mentions"]
    assert report["synonym_queries"]["queries"] == len(queries)
    assert report["synonym_queries"]["folds"] == 3
    assert report["synonym_queries"]["mentions"] == len(queries)
    saved = read_json(out / "xenc_mining.json")["config"]["synonym_queries"]
    assert (saved["per_concept"], saved["folds"]) == (1, 3)

    # one dense index per fold: the index's own encoder object (not reloaded) and settings
    manifest = read_json(data["root"] / "index" / "manifest.json")
    assert len(calls) == 3
    assert len({id(c["encoder"]) for c in calls}) == 1 and calls[0]["encoder"] is not None
    assert len(encoder_loads) == 1  # the model was loaded once, for mentions and folds alike
    for call in calls:
        assert call["n_names"] < kb.n_names  # the fold's query names are gone
        assert call["encoder_cfg"].model in (manifest["encoder"]["resolved_path"], manifest["encoder"]["name"])
        assert call["encoder_cfg"].pooling == manifest["encoder"]["pooling"]
        assert call["encoder_cfg"].max_length == manifest["encoder"]["max_length"]
        assert call["index_cfg"].index_type == manifest["index"]["type"]
        assert call["encoder"].pooling == manifest["encoder"]["pooling"]
        assert call["output_dir"] is None  # in memory: nothing written
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary directory either


def test_tfidf_candidates_build_no_index_and_max_queries_caps(data, monkeypatch):
    calls = _spy_builds(monkeypatch)
    out = data["root"] / "runs-tfidf" / "synonyms"
    plain = data["root"] / "runs-tfidf" / "plain"
    tfidf = [*data["common"], "--candidates-generator", "tfidf"]
    assert invoke("mine", *tfidf, "--output-dir", plain).exit_code == 0
    flags = ["--synonym-queries", 2, "--synonym-queries-max-queries", 10, "--synonym-folds", 2]
    result = invoke("mine", *tfidf, "--output-dir", out, *flags)
    assert result.exit_code == 0, result.output
    assert calls == []
    n_plain = len(load_candidate_lists(plain, "train"))
    expected = synonym_queries(data["kb"], per_concept=2, max_queries=10, seed=MineConfig().seed)
    assert 5 <= len(expected) <= 10  # 5 concepts: two queries each where they have three names or more
    added = load_candidate_lists(out, "train")["mention_id"][n_plain:]
    assert sorted(added) == sorted(q.mention_id for q in expected)  # fold by fold: the same queries
    assert load_mining_report(out)["splits"]["train"]["synonym_queries"]["folds"] == 2
    # synonym queries only extend the train split: a dev-only run ignores them
    dev_only = data["root"] / "runs-tfidf" / "dev-only"
    assert invoke("mine", *tfidf, "--output-dir", dev_only, "--splits", "dev", "--synonym-queries", 1).exit_code == 0
    assert set(load_pairs(dev_only)) == {"dev"}


def test_no_qualifying_concept_is_an_error_only_when_asked(data, tiny_st, tmp_path):
    kb = data["kb"]
    # every concept (the corpus golds too, so plain mining has pairs) with its preferred name only
    # (the same concepts and id aliases, so the corpus's gold ids still resolve: only the names change)
    import pyarrow as pa

    preferred = kb.preferred_names
    names = pa.table(
        {
            "name": pa.array(preferred, pa.string()),
            "concept_index": pa.array(range(kb.n_concepts), pa.int32()),
        }
    )
    single = kb.with_names(names)
    DenseIndex.build(single, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), tmp_path / "index")
    common = ["--index-dir", tmp_path / "index", *data["common"][2:]]
    result = invoke("mine", *common, "--output-dir", tmp_path / "on", "--synonym-queries", 1)
    assert result.exit_code == 2
    assert "no concept" in result.output and "synonym_queries.per_concept" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "on").exists()
    assert invoke("mine", *common, "--output-dir", tmp_path / "off").exit_code == 0
