"""``xenc mine --cross-fit-folds N``: cross-fitted training lists from a saved index, through the CLI.

Real-shaped data: a few NCBI-disease documents (train and dev by PMID) linked to a MEDIC subset
(their gold concepts and 200 more), indexed by ``xenc build-index --add-training-mentions`` with
the tiny random sentence-transformers BERT, so the index's KB holds the training mentions' strings
(names table columns ``mentions`` and ``dictionary``).
"""

from __future__ import annotations

from collections import Counter

import pytest
from candidate_lists import lists_of, same_columns
from typer.testing import CliRunner

from xenc_toolkit.cli.main import app
from xenc_toolkit.config import CorpusConfig, EncoderConfig, IndexConfig, MineConfig
from xenc_toolkit.corpora import load_corpus, mentions_by_split
from xenc_toolkit.errors import XencError
from xenc_toolkit.kb.model import KnowledgeBase
from xenc_toolkit.mining.folds import document_folds, kb_without_mentions
from xenc_toolkit.mining.pairs import load_candidate_lists, load_mining_report, load_pairs
from xenc_toolkit.retrieval import DenseIndex
from xenc_toolkit.utils.io import read_json

runner = CliRunner()
FOLDS = 3


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def data(ncbi_medic_slice, tmp_path_factory, tiny_st):
    root = tmp_path_factory.mktemp("cross-fit-cli")
    corpus, split_files, dictionary_kb = ncbi_medic_slice(root, 9, 3)
    dictionary_kb.save(root / "medic-subset")
    corpus_flags = [
        "--corpus-path",
        corpus,
        "--corpus-split-files",
        f"train={split_files['train']},dev={split_files['dev']}",
    ]
    encoder_flags = ["--encoder-model", tiny_st, "--encoder-device", "cpu"]
    result = invoke(
        "build-index",
        "--kb-path",
        root / "medic-subset",
        *encoder_flags,
        "--add-training-mentions",
        *corpus_flags,
        "--output-dir",
        root / "index",
        "-q",
    )
    assert result.exit_code == 0, result.output
    common = ["--index-dir", root / "index", *corpus_flags, "--candidates-n-candidates", 8, "-q"]
    plain = root / "runs" / "plain"
    result = invoke("mine", *common, "--output-dir", plain, "--cross-fit-folds", 0)
    assert result.exit_code == 0, result.output
    corpus_cfg = CorpusConfig(path=corpus, split_files={k: str(v) for k, v in split_files.items()})
    return {
        "root": root,
        "common": common,
        "plain": plain,
        "dictionary_kb": dictionary_kb,
        "kb": KnowledgeBase.load(root / "index" / "kb"),
        "train": mentions_by_split(load_corpus(corpus_cfg))["train"],
        "encoder_flags": encoder_flags,
    }


def _keys(kb: KnowledgeBase) -> list[tuple[str, str]]:
    ids = kb.concept_ids
    return [(ids[c], name) for c, name in zip(kb.name_concept.tolist(), kb.name_list, strict=True)]


def _mention_keys(kb: KnowledgeBase, mentions) -> Counter:
    """(gold concept id, surface string) of the single-gold mentions whose gold is in ``kb``."""
    out: Counter = Counter()
    for m in mentions:
        if len(m.gold_ids) == 1 and kb.resolve(m.gold_ids[0]) is not None:
            out[kb.concept_ids[kb.resolve(m.gold_ids[0])], m.surface_text] += 1
    return out


def _folds(data):
    folds = document_folds(data["train"], FOLDS, seed=MineConfig().seed)
    kb = data["kb"]
    keys = [_mention_keys(kb, fold) for fold in folds]
    dictionary = set(_keys(data["dictionary_kb"]))
    fold_only = []
    for f in range(FOLDS):
        others = set().union(*(set(keys[g]) for g in range(FOLDS) if g != f))
        fold_only.append(set(keys[f]) - others - dictionary)
    return folds, keys, fold_only


def _by_mention(table: dict) -> dict:
    columns = sorted(table)
    return {
        row["mention_id"]: row
        for row in (
            dict(zip(columns, values, strict=True)) for values in zip(*(table[c] for c in columns), strict=True)
        )
    }


def _spy_builds(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    original = DenseIndex.build

    def build(kb, encoder_cfg, index_cfg, output_dir=None, encoder=None, seed=42):
        calls.append({"keys": _keys(kb), "encoder_cfg": encoder_cfg, "output_dir": output_dir, "encoder": encoder})
        return original(kb, encoder_cfg, index_cfg, output_dir=output_dir, encoder=encoder, seed=seed)

    monkeypatch.setattr(DenseIndex, "build", staticmethod(build))
    return calls


# --------------------------------------------------------------------------- the KB's columns
def test_dictionary_flags_of_the_index_kb(data):
    kb, dictionary_kb = data["kb"], data["dictionary_kb"]
    dictionary = set(_keys(dictionary_kb))
    train_keys = _mention_keys(kb, data["train"])
    keys = _keys(kb)
    assert kb.name_in_dictionary.dtype == bool
    assert kb.name_in_dictionary.tolist() == [key in dictionary for key in keys]
    assert kb.n_names == dictionary_kb.n_names + len(set(train_keys) - dictionary)
    counts = dict(zip(keys, kb.name_mentions.tolist(), strict=True))
    assert {k: counts[k] for k in train_keys} == dict(train_keys)
    # mention strings equal to a dictionary name ("HH", "ALPS", ...): counted, and still dictionary names
    both = [i for i, key in enumerate(keys) if key in dictionary and key in train_keys]
    assert len(both) >= 3 and all(kb.name_in_dictionary[i] for i in both)
    assert (~kb.name_in_dictionary).sum() >= 20  # the strings only mentions added
    # subsets keep the column; a dictionary-only KB has none and counts every row as a dictionary name
    concepts = sorted({kb.name_concept[i] for i in both} | {kb.name_concept[i] for i in range(kb.n_names)[-5:]})
    sub = kb.subset(concepts)
    assert dict(zip(_keys(sub), sub.name_in_dictionary.tolist(), strict=True)) == {
        key: key in dictionary for key in _keys(sub)
    }
    assert not sub.name_in_dictionary.all() and sub.name_in_dictionary.any()
    assert "dictionary" not in dictionary_kb.names.column_names and dictionary_kb.name_in_dictionary.all()


def test_kb_without_mentions_takes_out_exactly_the_folds_own_strings(data):
    kb = data["kb"]
    folds, keys, fold_only = _folds(data)
    dictionary = set(_keys(data["dictionary_kb"]))
    full = dict(zip(_keys(kb), kb.name_mentions.tolist(), strict=True))
    for f, fold in enumerate(folds):
        out = kb_without_mentions(kb, fold)
        assert out.concepts.equals(kb.concepts) and out.aliases.equals(kb.aliases)
        remaining = dict(zip(_keys(out), out.name_mentions.tolist(), strict=True))
        assert fold_only[f] and set(full) - set(remaining) == fold_only[f]  # removed: exactly the fold-only strings
        carried = set(keys[f]) & dictionary
        for key in carried:  # dictionary names stay, with the other folds' counts only
            assert remaining[key] == full[key] - keys[f][key]
        shared = (set(keys[f]) - dictionary) - fold_only[f]
        for key in shared:  # also carried by other folds: kept, counts reduced
            assert 0 < remaining[key] == full[key] - keys[f][key]
        assert sum(remaining.values()) == sum(full.values()) - sum(keys[f].values())
        assert dict(zip(_keys(out), out.name_in_dictionary.tolist(), strict=True)) == {
            k: k in dictionary for k in remaining
        }
        assert out.metadata["held_out_mentions"]["names_removed"] == len(fold_only[f])
        assert out.checksum != kb.checksum
    assert any(set(k) & dictionary for k in keys) and any(
        (set(k) - dictionary) - o for k, o in zip(keys, fold_only, strict=True)
    )
    # all training mentions: no string added by mentions is left, every dictionary name is
    everything = kb_without_mentions(kb, data["train"])
    assert set(_keys(everything)) == dictionary and not everything.name_mentions.any()


def test_kb_without_mentions_tolerates_unknown_strings_and_needs_counts(data):
    kb = data["kb"]
    mention = data["train"][0]
    stray = [mention.__class__(mention_id="x1", doc_id="x", text="no such string", gold_ids=mention.gold_ids)]
    out = kb_without_mentions(kb, stray)
    assert _keys(out) == _keys(kb) and out.name_mentions.tolist() == kb.name_mentions.tolist()
    assert out.metadata["held_out_mentions"]["strings_not_found"] == 1
    without_counts = KnowledgeBase(concepts=kb.concepts, names=kb.names.drop_columns(["mentions"]), aliases=kb.aliases)
    for no_counts in (data["dictionary_kb"], without_counts):
        with pytest.raises(XencError, match="cross-fitting needs a KB that carries training-mention names"):
            kb_without_mentions(no_counts, data["train"])
    # a KB saved before the dictionary column: counts reduced, nothing removed (unknown provenance)
    old = KnowledgeBase(concepts=kb.concepts, names=kb.names.drop_columns(["dictionary"]), aliases=kb.aliases)
    assert old.name_in_dictionary.all()
    out = kb_without_mentions(old, data["train"])
    assert out.n_names == kb.n_names and not out.name_mentions.any()


# --------------------------------------------------------------------------- xenc mine
def test_mine_help_shows_the_flag():
    result = invoke("mine", "--help")
    assert result.exit_code == 0 and "--cross-fit-folds" in result.output


def test_cross_fitted_mining_through_the_cli(data, monkeypatch, encoder_loads):
    calls = _spy_builds(monkeypatch)
    out = data["root"] / "runs" / "cross-fit"
    result = invoke("mine", *data["common"], "--output-dir", out, "--cross-fit-folds", FOLDS)
    assert result.exit_code == 0, result.output
    assert "cross-fitted in 3 document folds" in result.output

    kb = data["kb"]
    folds, _, fold_only = _folds(data)
    plain_train, train = lists_of(data["plain"], "train"), lists_of(out, "train")
    assert len(train["mention_id"]) == len(plain_train["mention_id"]) == len(data["train"])
    assert sorted(train["mention_id"]) == sorted(plain_train["mention_id"])
    assert same_columns(lists_of(out, "dev"), lists_of(data["plain"], "dev"))  # evaluation lists untouched
    assert set(load_pairs(out)) == {"train", "dev"}

    # no training list holds a name that only its own fold's mentions put into the KB; a plain run's do
    fold_of = {m.mention_id: f for f, fold in enumerate(folds) for m in fold}

    def own_names(table: dict) -> int:
        found = 0
        for row in _by_mention(table).values():
            own = fold_only[fold_of[row["mention_id"]]]
            found += sum(
                (cid, name) in own for cid, name in zip(row["candidate_ids"], row["candidate_names"], strict=True)
            )
        return found

    assert own_names(plain_train) >= 10
    assert own_names(train) == 0

    report = load_mining_report(out)
    assert report["cross_fitted"]["folds"] == FOLDS
    assert report["cross_fitted"]["fold_mentions"] == [len(f) for f in folds]
    held_out = report["cross_fitted"]["held_out"]
    assert [h["names_removed"] for h in held_out] == [len(o) for o in fold_only]
    assert all(h["strings_not_found"] == 0 and h["counts_clipped"] == 0 for h in held_out)
    plain_report = load_mining_report(data["plain"])
    assert report["splits"]["train"]["mentions"] == plain_report["splits"]["train"]["mentions"]
    assert len(report["splits"]["train"]["folds"]) == FOLDS
    assert report["splits"]["dev"] == plain_report["splits"]["dev"]
    assert report["kb"] == plain_report["kb"]
    plain_recall = plain_report["splits"]["train"]["recall"]["fusion"]["recall@1"]
    assert report["splits"]["train"]["recall"]["fusion"]["recall@1"] < plain_recall  # the harder, honest view
    assert read_json(out / "xenc_mining.json")["config"]["cross_fit_folds"] == FOLDS

    # one in-memory index per fold, of that fold's KB, with the loaded index's encoder object
    manifest = read_json(data["root"] / "index" / "manifest.json")
    assert len(calls) == FOLDS
    for call, fold in zip(calls, folds, strict=True):
        assert call["keys"] == _keys(kb_without_mentions(kb, fold))
        assert call["output_dir"] is None
        assert call["encoder_cfg"].model in (manifest["encoder"]["resolved_path"], manifest["encoder"]["name"])
    assert len({id(c["encoder"]) for c in calls}) == 1 and calls[0]["encoder"] is not None
    assert len(encoder_loads) == 1  # loaded once, for mentions and folds alike
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_zero_folds_is_a_plain_run_and_tfidf_builds_no_index(data, monkeypatch):
    calls = _spy_builds(monkeypatch)
    out = data["root"] / "runs" / "zero"
    assert invoke("mine", *data["common"], "--output-dir", out, "--cross-fit-folds", 0).exit_code == 0
    assert calls == []
    for split in ("train", "dev"):
        assert same_columns(lists_of(out, split), lists_of(data["plain"], split))
        assert same_columns(load_pairs(out)[split].to_dict(), load_pairs(data["plain"])[split].to_dict())
    assert "cross_fitted" not in load_mining_report(out)

    tfidf = [*data["common"], "--candidates-generator", "tfidf"]
    plain, crossed = data["root"] / "runs-tfidf" / "plain", data["root"] / "runs-tfidf" / "cross"
    assert invoke("mine", *tfidf, "--output-dir", plain, "--cross-fit-folds", 0).exit_code == 0
    result = invoke("mine", *tfidf, "--output-dir", crossed, "--cross-fit-folds", 2)
    assert result.exit_code == 0, result.output
    assert calls == []
    assert same_columns(lists_of(crossed, "dev"), lists_of(plain, "dev"))
    assert len(load_candidate_lists(crossed, "train")) == len(load_candidate_lists(plain, "train"))
    assert load_mining_report(crossed)["cross_fitted"]["folds"] == 2
    # synonym queries are appended after the cross-fitted mention lists, as after plain ones
    both = data["root"] / "runs-tfidf" / "cross-synonyms"
    flags = ["--cross-fit-folds", 2, "--synonym-queries", 1, "--synonym-queries-max-queries", 10]
    assert invoke("mine", *tfidf, "--output-dir", both, *flags).exit_code == 0
    n_train = len(load_candidate_lists(crossed, "train"))
    assert same_columns(lists_of(both, "train")["mention_id"][:n_train], lists_of(crossed, "train")["mention_id"])
    assert 0 < len(load_candidate_lists(both, "train")) - n_train <= 10
    report = load_mining_report(both)
    assert report["cross_fitted"]["folds"] == 2 and report["splits"]["train"]["synonym_queries"]["queries"] > 0
    # cross-fitting only changes the train split: a dev-only run ignores it
    dev_only = data["root"] / "runs-tfidf" / "dev-only"
    assert invoke("mine", *tfidf, "--output-dir", dev_only, "--splits", "dev", "--cross-fit-folds", 2).exit_code == 0
    assert same_columns(lists_of(dev_only, "dev"), lists_of(plain, "dev"))
    for bad in (-1, "x"):
        assert invoke("mine", *tfidf, "--output-dir", dev_only, "--cross-fit-folds", bad).exit_code == 2
    result = invoke("mine", *tfidf, "--output-dir", data["root"] / "runs-tfidf" / "too-many", "--cross-fit-folds", 50)
    assert result.exit_code == 2 and "9 training documents cannot fill 50 folds" in result.output, result.output


def test_a_kb_without_mention_counts_is_a_clear_error(data, tiny_st, tmp_path):
    DenseIndex.build(
        data["dictionary_kb"], EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), tmp_path / "index"
    )
    common = ["--index-dir", tmp_path / "index", *data["common"][2:]]
    result = invoke("mine", *common, "--output-dir", tmp_path / "on", "--cross-fit-folds", FOLDS)
    assert result.exit_code == 2
    assert "cross-fitting needs a KB that carries training-mention names" in result.output
    assert "add_training_mentions" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "on").exists()
    assert invoke("mine", *common, "--output-dir", tmp_path / "off", "--cross-fit-folds", 1).exit_code == 0
    # the default (auto) does not cross-fit a KB without training-mention strings: a plain run
    result = invoke("mine", *common, "--output-dir", tmp_path / "auto")
    assert result.exit_code == 0, result.output
    assert "cross_fitted" not in load_mining_report(tmp_path / "auto")


def test_the_default_cross_fits_a_kb_that_carries_training_mentions(data, monkeypatch, encoder_loads):
    """cross_fit_folds: auto -> 4 document folds when the index's KB holds training-mention strings."""
    from xenc_toolkit.config import AUTO_CROSS_FIT_FOLDS

    out = data["root"] / "runs" / "auto"
    result = invoke("mine", *data["common"], "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert f"cross-fitted in {AUTO_CROSS_FIT_FOLDS} document folds" in result.output  # the summary (-q)
    report = load_mining_report(out)
    assert report["cross_fitted"]["folds"] == AUTO_CROSS_FIT_FOLDS
    assert same_columns(lists_of(out, "dev"), lists_of(data["plain"], "dev"))  # evaluation lists untouched
    # a split capped below 4 documents (--max-mentions) is mined without folds, not refused
    capped = data["root"] / "runs" / "auto-capped"
    result = invoke("mine", *data["common"], "--output-dir", capped, "--max-mentions", 2)
    assert result.exit_code == 0, result.output
    assert "cross_fitted" not in load_mining_report(capped)
