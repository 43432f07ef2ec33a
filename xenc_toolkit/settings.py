"""The settings each pipeline component takes: knowledge base, corpus, encoder, index, candidates,
negatives, input format, encoder tuning and synonym queries.

These pydantic sections are the *values* stage packages receive. The per-command configs that
compose them (``MineConfig``, ``TrainConfig``, ...) live in :mod:`xenc_toolkit.config`, which only
:mod:`xenc_toolkit.commands` and the CLI read. Unknown fields are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    format: str = Field(
        "auto",
        description="KB format; 'auto' detects a META directory, a saved KB, a .tsv or a MEDIC-style file",
        json_schema_extra={"registry": "xenc_toolkit.kb.formats:KB_FORMATS", "also": ["auto"]},
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
    files: dict[str, Path] = Field(
        {},
        description="one corpus file per split instead of path, e.g. train=train.txt,dev=dev.txt,test=test.txt "
        "(YAML: {train: train.txt, ...}): each file's mentions belong to its split",
    )
    format: Literal["auto", "pubtator", "bio", "jsonl"] = Field("auto", description="corpus format")
    split_files: dict[str, Path] = Field(
        {},
        description="split name -> file of the split's document ids (PMIDs, one a line) for a single corpus "
        "file (path), e.g. train=pmids_train.txt,dev=pmids_dev.txt (YAML: {train: pmids_train.txt, ...})",
    )
    bio_split: dict[str, float] = Field(
        {},
        description="for BIO input without document ids: contiguous sentence-block fractions, e.g. "
        "train=0.8,dev=0.2 (YAML: {train: 0.8, dev: 0.2})",
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
    batch holds two pairs of one concept (see :mod:`xenc_toolkit.training.encoder_tuning`).
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

    generator: str = Field(
        "fusion",
        description="dense, char n-gram TF-IDF, or both fused",
        json_schema_extra={"registry": "xenc_toolkit.retrieval.generators:GENERATORS"},
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


def dump_settings(settings: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of any settings or config model (paths as strings)."""
    return settings.model_dump(mode="json")
