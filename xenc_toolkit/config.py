"""Validated configuration for every pipeline stage.

Each ``xenc`` subcommand has one pydantic model here; its YAML file and its
command-line overrides are merged and validated by :func:`load_config`. Field
descriptions double as ``--help`` text. Unknown fields are errors, so a typo in a
YAML file is reported instead of silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .utils.lines import read_text

DEFAULT_ENCODER = "cambridgeltl/SapBERT-from-PubMedBERT-fulltext"
DEFAULT_CROSS_ENCODER_BASE = "cambridgeltl/SapBERT-from-PubMedBERT-fulltext"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- inputs
class KBConfig(Section):
    """Where the knowledge base comes from and how it is filtered."""

    path: Path | None = Field(
        None, description="UMLS META directory, dictionary file (MEDIC-style or TSV) or saved KB dir"
    )
    format: Literal["auto", "umls", "medic", "tsv", "saved"] = Field(
        "auto", description="KB format; 'auto' detects a META directory, a saved KB, a .tsv or a MEDIC-style file"
    )
    languages: list[str] = Field(["ENG"], description="UMLS LAT values to keep (empty = all)")
    sources: list[str] = Field([], description="UMLS SAB values to keep (empty = all)")
    exclude_sources: list[str] = Field([], description="UMLS SAB values to drop")
    suppress: list[str] = Field(["O", "E", "Y"], description="UMLS SUPPRESS values to drop")
    term_types: list[str] = Field([], description="UMLS TTY values to keep (empty = all)")
    semantic_types: list[str] = Field([], description="keep only concepts with one of these TUIs (empty = all)")
    semantic_groups: list[str] = Field([], description="keep only concepts in these semantic groups, e.g. DISO, CHEM")
    load_definitions: bool = Field(False, description="also read MRDEF.RRF definitions")
    map_retired: bool = Field(True, description="read MRCUI.RRF and resolve retired CUIs to current ones")
    cache_dir: Path | None = Field(
        None, description="directory for the Parquet KB cache (default: ~/.cache/xenc-toolkit/kb)"
    )
    lenient: bool = Field(False, description="count and report bad lines instead of stopping at the first")


class CorpusConfig(Section):
    """An annotated corpus and its document splits.

    ``expand_abbreviations`` (off by default) resolves in-document abbreviations when the corpus
    is loaded: mining, and so training, calibration and evaluation (which read the mined lists),
    link "DMD" as "Duchenne muscular dystrophy" where the document defines it; build-index's
    ``add_training_mentions`` still adds the surface strings ("DMD") to the KB. Definitions are
    searched in the PubTator document, the BIO sentence, or the JSONL mentions' context windows
    (see :mod:`xenc_toolkit.corpora.abbreviations`).
    """

    path: Path | None = Field(None, description="PubTator file, token-BIO TSV or JSONL of mentions")
    format: Literal["auto", "pubtator", "bio", "jsonl"] = Field("auto", description="corpus format")
    split_files: dict[str, Path] = Field(
        {}, description="split name -> file of document ids (PMIDs), e.g. {train: corpus_pubtator_pmids_trng.txt}"
    )
    bio_split: dict[str, float] = Field(
        {},
        description="for BIO input without document ids: contiguous sentence-block fractions, e.g. {train: 0.8, dev: 0.2}",
    )
    types_file: Path | None = Field(
        None, description="JSON {CUI: [TUI, ...]} giving semantic types to mentions lacking them"
    )
    context_window: int = Field(16, ge=0, description="context kept on each side of a mention")
    context_unit: Literal["words", "chars"] = Field("words", description="unit of context_window")
    id_prefix: str | None = Field(None, description="prefix stripped from gold ids, e.g. 'UMLS:' or 'MESH:'")
    lenient: bool = Field(False, description="count and report bad lines instead of stopping at the first")
    expand_abbreviations: bool = Field(
        False,
        description="link mentions that are short forms defined in their document ('Duchenne muscular dystrophy "
        "(DMD) ... DMD') through their long form (Schwartz-Hearst); the surface string stays in original_text",
    )


# --------------------------------------------------------------------------- models
class EncoderConfig(Section):
    """The bi-encoder that embeds KB names and mentions."""

    model: str = Field(DEFAULT_ENCODER, description="sentence-transformers / Hugging Face model name or path")
    revision: str | None = Field(None, description="model revision (branch, tag or commit) on the Hub")
    pooling: Literal["auto", "cls", "mean"] = Field(
        "auto", description="'auto': a sentence-transformers model's own pooling, CLS for plain HF models (as SapBERT)"
    )
    max_length: int = Field(25, ge=4, le=512, description="max tokens per name/mention")
    batch_size: int = Field(
        16384,
        ge=1,
        description="names per batch on GPU, at most 16 tokens each on average (CPU: at most 256); "
        "16,384 ran 1.25-2.5x faster than 1,024-8,192 on an H100 (benchmarks/results/encode_kernels.json)",
    )
    dtype: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="'auto' = fp16 on GPU (finer than bf16 for near-duplicate names), fp32 on CPU"
    )
    device: str | None = Field(None, description="'cuda', 'cuda:1', 'cpu'; default: GPU when present")
    devices: list[str] | None = Field(
        None,
        description="encode on several devices at once, e.g. ['cuda:0', 'cuda:1'] or ['all'] (every visible GPU); "
        "the first replaces 'device'; same embeddings as one device",
    )


class EncoderTuningConfig(Section):
    """SapBERT-style fine-tuning of the bi-encoder on the KB's synonyms (``xenc tune-encoder``).

    Training pairs are two different names of one concept (and, with ``use_mentions``, a training
    mention and a name of its gold concept); every other pair of a batch is a negative, and no
    batch holds two pairs of one concept (see :mod:`xenc_toolkit.index.tuning`).
    """

    max_pairs_per_concept: int = Field(
        50, ge=1, description="name pairs drawn per concept (all pairs when it has fewer; SapBERT used 50)"
    )
    use_mentions: bool = Field(
        False,
        description="also pair each training mention with a name of its gold concept (needs corpus.path; "
        "never evaluation mentions)",
    )
    mention_splits: list[str] = Field(["train"], description="corpus splits whose mentions are paired (use_mentions)")
    directions: Literal["query_to_doc", "symmetric", "all"] = Field(
        "symmetric",
        description="in-batch softmax: anchor->names ('query_to_doc'), both ways ('symmetric'), or also "
        "anchor->anchors and name->names ('all', one joint softmax)",
    )
    scale: float = Field(20.0, gt=0, description="cosine-similarity scale (inverse temperature) of the loss")
    learning_rate: float = Field(2e-5, gt=0, description="peak learning rate (SapBERT: 2e-5)")
    batch_size: int = Field(256, ge=2, description="pairs per step: each pair's negatives are the batch's other pairs")
    mini_batch_size: int | None = Field(
        None,
        ge=1,
        description="embed a batch in chunks of this many texts (GradCache: CachedMultipleNegativesRankingLoss), "
        "so large batches fit in memory; the loss is the same",
    )
    epochs: float = Field(1.0, gt=0, description="passes over the pairs")
    max_steps: int | None = Field(None, ge=1, description="stop after this many updates (overrides epochs)")
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="'auto' = bf16 on GPUs that have it")
    monitor_pairs: int = Field(
        1024,
        ge=0,
        description="pairs (a fixed sample) on which the in-batch loss and accuracy are measured before and "
        "after tuning (0 = off)",
    )


class IndexConfig(Section):
    """The nearest-neighbour index over name embeddings."""

    index_type: Literal["flat", "ivf", "hnsw"] = Field("flat", description="exact inner product, IVF or HNSW")
    backend: Literal["auto", "faiss", "torch"] = Field(
        "auto", description="'auto': exact search on GPU via faiss-gpu or torch, faiss on CPU"
    )
    nlist: int | None = Field(None, ge=1, description="IVF lists (default ~4*sqrt(n))")
    nprobe: int = Field(32, ge=1, description="IVF lists searched per query")
    hnsw_m: int = Field(32, ge=4, description="HNSW neighbours per node")
    ef_search: int = Field(128, ge=1, description="HNSW search depth")
    ef_construction: int = Field(80, ge=1, description="HNSW build depth")


class InputFormatConfig(Section):
    """How mentions and candidates are written as cross-encoder text."""

    context: bool = Field(False, description="put the mention's sentence context in the query")
    context_words: int = Field(16, ge=0, description="words of context on each side when context is on")
    start_marker: str = Field("[START]", description="marker before the mention in a context query")
    end_marker: str = Field("[END]", description="marker after the mention in a context query")
    candidate_types: bool = Field(False, description="append ' [TYPE] <semantic type names>' to candidate names")
    preferred_name: bool = Field(
        True, description="show the concept's preferred name after the matched synonym: 'MI (Myocardial infarction)'"
    )


class CandidateConfig(Section):
    """Candidate generation for each mention."""

    generator: Literal["dense", "tfidf", "fusion"] = Field(
        "fusion", description="dense, char n-gram TF-IDF, or both fused"
    )
    n_candidates: int = Field(32, ge=1, le=1024, description="concepts kept per mention (top-N)")
    top_k_names: int | None = Field(
        None, ge=1, description="names retrieved per mention before concept aggregation (default 4*N)"
    )
    fusion: Literal["rrf", "interpolate"] = Field("rrf", description="how dense and TF-IDF lists are fused")
    rrf_k: int = Field(60, ge=1, description="reciprocal-rank-fusion constant")
    alpha: float = Field(0.5, ge=0, le=1, description="dense weight for score interpolation")
    dense_context: bool = Field(False, description="encode the mention with its context for dense retrieval")
    tfidf_ngram_min: int = Field(3, ge=1, description="smallest character n-gram")
    tfidf_ngram_max: int = Field(3, ge=1, description="largest character n-gram")
    batch_size: int = Field(4096, ge=1, description="mentions per search batch")


class HardNegativesConfig(Section):
    enabled: bool = Field(True, description="sample hard negatives from the candidate list")
    count: int = Field(8, ge=0, description="hard negatives per mention")
    min_rank: int = Field(0, ge=0, description="first candidate rank eligible (0 = top)")
    max_rank: int | None = Field(None, ge=1, description="last candidate rank eligible (default: all)")
    margin: float | None = Field(None, description="only negatives scoring at most gold_score - margin")
    margin_type: Literal["absolute", "relative"] = Field(
        "absolute", description="margin as a score difference or a fraction"
    )
    sampling: Literal["top", "random"] = Field(
        "top", description="take the highest-ranked eligible or sample at random"
    )


class TypeNegativesConfig(Section):
    enabled: bool = Field(True, description="sample concepts of the gold's semantic type outside the candidate list")
    count: int = Field(2, ge=0, description="type negatives per mention")
    level: Literal["type", "group"] = Field("type", description="same TUI or same semantic group")
    mode: Literal["same", "different"] = Field("same", description="'same' type as the gold (harder) or 'different'")


class RandomNegativesConfig(Section):
    enabled: bool = Field(True, description="uniform random concepts, for calibration across the score range")
    count: int = Field(1, ge=0, description="random negatives per mention")


class NegativesConfig(Section):
    hard: HardNegativesConfig = HardNegativesConfig()
    type: TypeNegativesConfig = TypeNegativesConfig()
    random: RandomNegativesConfig = RandomNegativesConfig()
    same_name_filter: bool = Field(
        True,
        description="a concept sharing a normalised name with the gold is a synonym, never a negative (UMLS-style "
        "KBs). Turn off for a KB built from annotated surface forms, where a shared name is ambiguity the "
        "reranker must learn to resolve",
    )


class SynonymQueriesConfig(Section):
    """Extra training lists whose queries are the KB's own synonyms (:mod:`xenc_toolkit.mining.synonyms`).

    A dictionary name of a concept with another distinct name becomes a pseudo-mention whose gold
    is that concept; it is mined against the KB without that name (every spelling of it under the
    gold), so the gold can only be retrieved through another synonym. The queries are split into
    ``folds`` by concept, each fold mined against its own reduced KB (with a dense index of it for
    the dense and fusion generators). Training lists only: evaluation splits never get them.
    """

    per_concept: int = Field(
        0,
        ge=0,
        description="synonym queries drawn per concept with at least two distinct names (0 = off)",
        json_schema_extra={"cli_aliases": ["--synonym-queries"]},
    )
    folds: int = Field(
        4,
        ge=1,
        json_schema_extra={"cli_aliases": ["--synonym-folds"]},
        description="folds of concepts, each mined against the KB without its queries' names; more folds hide "
        "fewer names per KB but build more indexes (one dense index per fold for dense/fusion candidates)",
    )
    max_queries: int | None = Field(
        None, ge=1, description="cap on synonym queries in all (a random sample of concepts)"
    )
    dictionary_only: bool = Field(
        True,
        description="draw queries only from dictionary names, never from strings that training mentions added "
        "to the KB (build-index add_training_mentions): those mentions are training lists already",
    )


# --------------------------------------------------------------------------- commands
class CommonConfig(Section):
    seed: int = Field(42, description="random seed")
    quiet: bool = Field(False, description="no progress bars")


class BuildIndexConfig(CommonConfig):
    """``xenc build-index``: embed every KB name and build the search index."""

    output_dir: Path = Field(Path("xenc-output/index"), description="index directory to write")
    kb: KBConfig = KBConfig()
    encoder: EncoderConfig = EncoderConfig()
    index: IndexConfig = IndexConfig()
    add_training_mentions: bool = Field(
        False, description="add the training split's mention strings as extra names of their gold concepts (opt-in)"
    )
    corpus: CorpusConfig = CorpusConfig()


class TuneEncoderConfig(CommonConfig):
    """``xenc tune-encoder``: fine-tune the bi-encoder on the KB's synonyms (optional, before build-index).

    Writes a plain sentence-transformers directory (with the pooling the index's name encoder
    uses); build the index with it: ``xenc build-index --encoder-model <output_dir>``.
    """

    output_dir: Path = Field(Path("xenc-output/encoder"), description="tuned model directory to write")
    kb: KBConfig = KBConfig()
    base_model: str = Field(DEFAULT_ENCODER, description="bi-encoder to start from (sentence-transformers or HF)")
    revision: str | None = Field(None, description="base model revision (branch, tag or commit) on the Hub")
    pooling: Literal["auto", "cls", "mean"] = Field(
        "auto", description="'auto': a sentence-transformers model's own pooling, CLS for plain HF models (as SapBERT)"
    )
    max_length: int = Field(25, ge=4, le=512, description="max tokens per name/mention")
    device: str | None = Field(
        None,
        description="'cuda' or 'cpu'; default: GPU when present (the trainer takes every visible GPU, "
        "multiplying the batch: set CUDA_VISIBLE_DEVICES to use one)",
    )
    tuning: EncoderTuningConfig = EncoderTuningConfig()
    corpus: CorpusConfig = CorpusConfig()


class MineConfig(CommonConfig):
    """``xenc mine``: candidates and positive/negative pairs for each mention."""

    index_dir: Path = Field(Path("xenc-output/index"), description="index built by build-index")
    output_dir: Path = Field(Path("xenc-output/pairs"), description="pairs directory to write (datasets Arrow)")
    corpus: CorpusConfig = CorpusConfig()
    splits: list[str] = Field(["train", "dev"], description="splits to mine")
    candidates: CandidateConfig = CandidateConfig()
    negatives: NegativesConfig = NegativesConfig()
    input_format: InputFormatConfig = InputFormatConfig()
    include_gold_in_train_lists: bool = Field(
        True, description="insert the gold into training candidate lists when retrieval missed it"
    )
    max_mentions: int | None = Field(None, ge=1, description="cap on mentions per split (for quick runs)")
    synonym_queries: SynonymQueriesConfig = Field(
        SynonymQueriesConfig(),
        description="extra training lists whose queries are KB dictionary names, each mined against the KB "
        "without that name (off by default: per_concept 0); only the train split; each fold builds a dense "
        "index of the KB (with the index's own encoder) when the generator is dense or fusion",
    )
    cross_fit_folds: int = Field(
        0,
        ge=0,
        description="cross-fitted training lists: mine the train split in this many document folds, each "
        "against the index's KB without the fold's own training-mention strings (the KB must carry them: "
        "build-index add_training_mentions, or a KB built from a corpus) through an in-memory dense index of "
        "that KB built with the index's encoder; other splits against the full index (0 or 1 = off)",
    )


class TrainConfig(CommonConfig):
    """``xenc train``: fine-tune a CrossEncoder on mined pairs."""

    pairs_dir: Path = Field(Path("xenc-output/pairs"), description="output of xenc mine")
    output_dir: Path = Field(Path("xenc-output/model"), description="training output (checkpoints, best/, final/)")
    base_model: str = Field(DEFAULT_CROSS_ENCODER_BASE, description="model to start from (name or path)")
    max_length: int = Field(128, ge=8, le=512, description="max tokens of a (query, candidate) pair")
    loss: Literal["bce", "listwise", "lambda"] = Field(
        "bce", description="pointwise BCE, listwise softmax CE, or LambdaLoss"
    )
    pos_weight: float | None = Field(None, gt=0, description="BCE weight of positives (none = 1)")
    kind_weights: dict[str, float] = Field(
        {}, description="per-negative-kind sample weights for BCE, e.g. {hard: 1.0, type: 0.5, random: 0.25}"
    )
    list_size: int = Field(16, ge=2, description="candidates per mention in listwise training")
    learning_rate: float = Field(2e-5, gt=0, description="peak learning rate")
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    batch_size: int = Field(64, ge=1, description="pairs (or mentions, listwise) per device per step")
    gradient_accumulation_steps: int = Field(1, ge=1, description="steps accumulated per optimiser update")
    length_bucket_tokens: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto",
        description="fast path: width of the length buckets of a batch; 'auto' = 16 tokens when the median "
        "pair is at most 16 tokens (mention-only: follows the stock curve), else 8",
    )
    micro_batches: int = Field(
        1,
        ge=1,
        description="fast path: draw each batch uniformly at random and run it as this many length-sorted "
        "micro-batches accumulated into one update: the stock trainer's learning curve with less padding, "
        "slower than the default length-grouped batches (mention-only pairs on an H100: 11.3K vs 25.9K "
        "samples/s at 4, stock 6.0K; see benchmarks/README.md)",
    )
    global_batch_size: int | None = Field(
        None,
        ge=1,
        description="examples per optimiser update over all processes; when set, the per-device batch is "
        "global_batch_size / (processes x gradient_accumulation_steps), batch_size is ignored, and each "
        "batch is drawn whole and split between processes (the same data order on any number of GPUs)",
    )
    epochs: float = Field(1.0, gt=0, description="training epochs")
    max_steps: int | None = Field(None, ge=1, description="stop after this many updates (overrides epochs)")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="'auto' = bf16 on GPUs that have it")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory")
    eval_steps: int | None = Field(None, ge=1, description="evaluate every N steps (default: once per epoch)")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept")
    metric_for_best_model: str = Field("dev_acc@1", description="evaluator metric that selects best/")
    early_stopping_patience: int | None = Field(None, ge=1, description="stop after N evaluations without improvement")
    early_stopping_threshold: float = Field(0.0, ge=0, description="minimum improvement that resets patience")
    max_eval_mentions: int | None = Field(2000, ge=1, description="dev mentions used by the in-training evaluator")
    dev_split: str = Field(
        "auto",
        description="split evaluated during training ('auto': dev, else validation, if mined; 'none': no "
        "evaluation, best/ = final/)",
    )
    fast: bool = Field(True, description="pre-tokenised, length-grouped batches (same model, much faster)")
    compile: bool = Field(False, description="torch.compile the model (GPU)")
    dataloader_workers: int = Field(0, ge=0, description="data loader worker processes")
    resume: bool = Field(False, description="continue from the last checkpoint in output_dir")
    report_to: list[str] = Field(["tensorboard"], description="trainer loggers ('tensorboard', 'none', ...)")


class EvaluateConfig(CommonConfig):
    """``xenc evaluate``: linking, pair and calibration metrics, plots and a report."""

    model_dir: Path = Field(Path("xenc-output/model/best"), description="trained CrossEncoder directory")
    pairs_dir: Path = Field(Path("xenc-output/pairs"), description="output of xenc mine (candidate lists and pairs)")
    split: str = Field("dev", description="split to evaluate")
    fusion: Literal["auto", "off"] = Field(
        "auto",
        description="auto: rank by reranker logit + w x retrieval score when the model dir has a fitted "
        "xenc_fusion.json (xenc calibrate); off: the reranker alone",
    )
    output_dir: Path = Field(Path("xenc-output/results"), description="where results, report and plots go")
    batch_size: int = Field(256, ge=1, description="pairs per scoring batch")
    max_length: int | None = Field(None, ge=8, description="max pair tokens (default: the model's)")
    threshold: float | None = Field(None, gt=0, lt=1, description="decision threshold (default: calibrated or 0.5)")
    high_confidence: float = Field(0.9, gt=0, lt=1, description="Stage-3 high-confidence probability")
    n_bins: int = Field(15, ge=2, description="calibration bins")
    calibration_file: Path | None = Field(None, description="calibration.json (default: the one next to the model)")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="inference precision")
    html: bool = Field(True, description="also write report.html")


class CalibrateConfig(CommonConfig):
    """``xenc calibrate``: fit probability calibration and per-type thresholds."""

    model_dir: Path = Field(Path("xenc-output/model/best"), description="trained CrossEncoder directory")
    pairs_dir: Path = Field(Path("xenc-output/pairs"), description="output of xenc mine")
    split: str = Field("dev", description="split to fit on")
    methods: list[Literal["temperature", "platt", "isotonic"]] = Field(
        ["temperature", "platt", "isotonic"], description="methods compared by cross-validation"
    )
    folds: int = Field(5, ge=2, description="cross-validation folds (split by mention)")
    selection_metric: Literal["ece", "brier", "log_loss"] = Field(
        "brier", description="held-out metric that picks the method"
    )
    threshold_objective: Literal["f1", "precision"] = Field(
        "f1", description="maximise F1, or reach a precision target"
    )
    precision_target: float = Field(0.95, gt=0, lt=1, description="precision for threshold_objective=precision")
    min_examples: int = Field(
        50, ge=1, description="fewer examples of a type than this fall back to its group, then global"
    )
    high_confidence_precision: float = Field(0.95, gt=0, lt=1, description="precision that defines the high tier")
    batch_size: int = Field(256, ge=1, description="pairs per scoring batch")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="inference precision")
    output_file: Path | None = Field(None, description="default: <model_dir>/xenc_calibration.json")
    fit_fusion: bool = Field(
        True,
        description="also fit the weight w of 'reranker logit + w x retrieval score' on the split's lists "
        "(saved as <model_dir>/xenc_fusion.json; used by evaluate and the Linker)",
    )


class LinkConfig(CommonConfig):
    """``xenc link``: link mentions from a file with a trained model and an index."""

    model_dir: Path = Field(Path("xenc-output/model/best"), description="trained CrossEncoder directory")
    index_dir: Path = Field(Path("xenc-output/index"), description="index built by build-index")
    input: Path | None = Field(
        None, description="text (one mention a line), TSV (mention[<TAB>context][<TAB>type]) or JSONL"
    )
    input_format: Literal["auto", "text", "tsv", "jsonl"] = Field("auto", description="input format")
    output: Path | None = Field(None, description="output file (.jsonl or .tsv); default: stdout as JSONL")
    output_format: Literal["auto", "jsonl", "tsv"] = Field("auto", description="output format")
    top_k: int = Field(5, ge=1, description="alternatives reported per mention")
    n_candidates: int | None = Field(None, ge=1, description="candidates scored per mention (default: as mined)")
    batch_size: int = Field(256, ge=1, description="pairs per scoring batch")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="inference precision")
    lenient: bool = Field(False, description="count and report bad input lines instead of stopping at the first")


class StatsConfig(CommonConfig):
    """``xenc stats``: corpus and KB statistics."""

    corpus: CorpusConfig = CorpusConfig()
    kb: KBConfig = KBConfig()
    index_dir: Path | None = Field(None, description="take the KB from this index instead of kb.path")
    output: Path | None = Field(None, description="also write the statistics as JSON")


class QuickstartConfig(CommonConfig):
    """``xenc quickstart``: the whole pipeline on bundled MedMentions data, offline, on CPU."""

    output_dir: Path = Field(Path("xenc-quickstart"), description="where index/, pairs/, model/, results/ go")
    model: str | None = Field(
        None, description="encoder and cross-encoder base (default: the offline all-MiniLM-L6-v2)"
    )
    device: str | None = Field(None, description="default: GPU when present, else CPU")
    train_mentions: int = Field(700, ge=10, description="training mentions sampled from the training portion")
    eval_mentions: int = Field(400, ge=10, description="held-out evaluation mentions")
    validation_mentions: int = Field(
        300,
        ge=10,
        description="training-portion mentions not trained on: checkpoint choice, calibration, fusion weight",
    )
    n_candidates: int = Field(8, ge=2, description="candidates per mention")
    loss: Literal["bce", "listwise", "lambda"] = Field("listwise", description="training loss")
    list_size: int = Field(8, ge=2, description="candidates per mention in listwise training")
    learning_rate: float = Field(1e-4, gt=0, description="peak learning rate")
    batch_size: int = Field(16, ge=1, description="mentions (listwise) or pairs (bce) per step")
    epochs: float = Field(1.0, gt=0, description="training epochs")
    context_words: int = Field(0, ge=0, description="words of sentence context in the query (0 = mention only)")
    candidate_types: bool = Field(True, description="append the semantic type names to candidate names")
    hard_negatives: int = Field(5, ge=0, description="hard negatives per mention (bce pairs)")
    same_name_filter: bool = Field(
        False,
        description="drop same-name concepts from training negatives (off: the quickstart KB is annotated surface "
        "forms, where one string under several CUIs is ambiguity to learn, not synonymy)",
    )


COMMAND_CONFIGS: dict[str, type[CommonConfig]] = {
    "build-index": BuildIndexConfig,
    "tune-encoder": TuneEncoderConfig,
    "mine": MineConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "calibrate": CalibrateConfig,
    "link": LinkConfig,
    "stats": StatsConfig,
    "quickstart": QuickstartConfig,
}


# --------------------------------------------------------------------------- loading
def _format_validation_error(error: ValidationError, source: str) -> str:
    """One line naming the first bad field, what was given and what is allowed."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "<root>"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown field '{field}'"
    given = first.get("input")
    given_text = "" if isinstance(given, dict) else f" (got {given!r})"
    more = f" [+{len(error.errors()) - 1} more]" if len(error.errors()) > 1 else ""
    return f"{source}: field '{field}': {message}{given_text}{more}"


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(read_text(path, what="config file"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply)") from None
    except Exception as exc:  # a value PyYAML parses but cannot build, e.g. the date 2001-02-30 or `!!timestamp x`
        raise ConfigError(f"{path}: not valid YAML ({type(exc).__name__}: {exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}")
    return data


def _command_section(data: dict[str, Any], model: type[CommonConfig], path) -> dict[str, Any]:
    """A pipeline file holds one section per command (``build-index:``, ``mine:``, ...): pick this one.

    Sections may share values through YAML anchors. A file whose top-level keys are not
    command names is a plain config of this one command.
    """
    names = {name: cls for name, cls in COMMAND_CONFIGS.items()}
    names.update({name.replace("-", "_"): cls for name, cls in COMMAND_CONFIGS.items()})
    keys = {k for k in data if not str(k).startswith(".")}  # ".defaults"-style anchor holders are ignored
    if not keys or not keys <= set(names):
        return data
    for name, cls in names.items():
        if cls is model and name in data:
            section = data[name] or {}
            if not isinstance(section, dict):
                raise ConfigError(f"{path}: section '{name}' must be a mapping of fields")
            return section
    command = next(name for name, cls in COMMAND_CONFIGS.items() if cls is model)
    raise ConfigError(
        f"{path}: no '{command}:' section for this command (the file has sections: "
        f"{', '.join(sorted(map(str, keys)))}); add one, or leave this file out"
    )


def load_config(
    model: type[CommonConfig],
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> CommonConfig:
    """Merge a YAML file with dotted-key overrides (``{"encoder.batch_size": 64}``) and validate.

    Raises :class:`ConfigError` with a one-line message on any problem.
    """
    data: dict[str, Any] = read_yaml(config_file) if config_file else {}
    data = _command_section(data, model, config_file)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    source = str(config_file) if config_file else "config"
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None
    except RecursionError:  # a YAML alias that contains itself
        raise ConfigError(f"{source}: a value refers to itself (a recursive YAML alias)") from None


def dump_config(config: BaseModel) -> dict[str, Any]:
    return config.model_dump(mode="json")
