"""Validated configuration of every ``xenc`` command.

Each ``xenc`` subcommand has one pydantic model here, composed of the component settings of
:mod:`xenc_toolkit.settings` (re-exported here); its YAML file and its
command-line overrides are merged and validated by :func:`load_config`. Field
descriptions double as ``--help`` text. Unknown fields are errors, so a typo in a
YAML file is reported instead of silently ignored.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from .errors import ConfigError
from .settings import (  # noqa: F401  (re-exported: the sections of every command config)
    DEFAULT_CROSS_ENCODER_BASE,
    DEFAULT_ENCODER,
    CandidateConfig,
    CorpusConfig,
    EncoderConfig,
    EncoderTuningConfig,
    HardNegativesConfig,
    IndexConfig,
    InputFormatConfig,
    KBConfig,
    NegativesConfig,
    RandomNegativesConfig,
    Section,
    SynonymQueriesConfig,
    TypeNegativesConfig,
)
from .settings import dump_settings as dump_config  # noqa: F401
from .utils.lines import read_text
from .utils.provenance import lookup

# --------------------------------------------------------------------------- commands
LOSS_REGISTRY = "xenc_toolkit.training.losses.registry:LOSSES"


def registry(field_info) -> Any:
    """The registry a field's value must name (``json_schema_extra={"registry": "module:NAME"}``), or None."""
    extra = field_info.json_schema_extra if isinstance(field_info.json_schema_extra, dict) else {}
    target = extra.get("registry")
    if not target:
        return None
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def _check_registered(model: BaseModel, prefix: str = "") -> None:
    """Every field that names a kind (loss, generator, calibrator, ...) names a registered one."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _check_registered(value, f"{prefix}{name}.")
            continue
        kinds = registry(info)
        if kinds is None:
            continue
        also = (info.json_schema_extra or {}).get("also", [])  # values with a meaning of their own ("auto")
        for item in value if isinstance(value, list) else [value]:
            if item not in kinds and item not in also:
                names = [repr(known) for known in [*also, *kinds.names()]]
                allowed = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
                raise ValueError(f"field '{prefix}{name}': Input should be {allowed} (got {item!r})")


class CommonConfig(Section):
    seed: int = Field(42, description="random seed")
    quiet: bool = Field(False, description="no progress bars")

    @model_validator(mode="after")
    def _registered_kinds(self) -> CommonConfig:
        _check_registered(self)
        return self


ALLOW_MISMATCH_HELP = (
    "run even when the artefacts combined (index, corpus, pairs, model, calibration) were made from different "
    "inputs (KB, encoder, corpus, input format, model): a warning instead of an error"
)


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


class BuildKbConfig(CommonConfig):
    """``xenc build-kb``: a knowledge base from an annotated corpus (each concept's distinct surface forms).

    For data without a terminology (MedMentions with no UMLS at hand): the concepts are the gold ids
    of the chosen splits' mentions, their names the distinct mention strings (most frequent first),
    their types the mentions' (or ``corpus.types_file``'s). Writes a saved KB: use it as
    ``kb.path`` of ``xenc build-index``; the KB records which training mentions carried each name, so
    ``xenc mine --cross-fit-folds N`` can mine each fold without its own strings.
    """

    output_dir: Path = Field(Path("xenc-output/kb"), description="saved KB directory to write (then kb.path)")
    corpus: CorpusConfig = CorpusConfig()
    splits: list[str] = Field(
        ["train"], description="splits whose mentions name the concepts (never an evaluation split)"
    )


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


# cross_fit_folds: 'auto' (xenc mine) folds when the index's KB carries training-mention strings
AUTO_CROSS_FIT_FOLDS = 4


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
    cross_fit_folds: Annotated[int, Field(ge=0)] | Literal["auto"] = Field(
        "auto",
        description="cross-fitted training lists: mine the train split in this many document folds, each "
        "against the index's KB without the fold's own training-mention strings (the KB must carry them: "
        "build-index add_training_mentions, or a KB built from a corpus) through an in-memory dense index of "
        "that KB built with the index's encoder; other splits against the full index (0 or 1 = off); 'auto' = "
        f"{AUTO_CROSS_FIT_FOLDS} when the index's KB carries training-mention strings, else off",
    )
    allow_mismatch: bool = Field(False, description=ALLOW_MISMATCH_HELP)


class TrainConfig(CommonConfig):
    """``xenc train``: fine-tune a CrossEncoder on mined pairs."""

    pairs_dir: Path = Field(Path("xenc-output/pairs"), description="output of xenc mine")
    output_dir: Path = Field(Path("xenc-output/model"), description="training output (checkpoints, best/, final/)")
    base_model: str = Field(DEFAULT_CROSS_ENCODER_BASE, description="model to start from (name or path)")
    max_length: int = Field(128, ge=8, le=512, description="max tokens of a (query, candidate) pair")
    loss: str = Field(
        "listwise",
        description="listwise softmax CE over each mention's candidate list (the measured recipe), pointwise BCE, "
        "or LambdaLoss",
        json_schema_extra={"registry": LOSS_REGISTRY},
    )
    pos_weight: float | None = Field(None, gt=0, description="BCE weight of positives (none = 1)")
    kind_weights: dict[str, float] = Field(
        {}, description="per-negative-kind sample weights for BCE, e.g. {hard: 1.0, type: 0.5, random: 0.25}"
    )
    list_size: int = Field(8, ge=2, description="candidates per mention in listwise training")
    learning_rate: float = Field(5e-5, gt=0, description="peak learning rate")
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    batch_size: int = Field(
        16, ge=1, description="mentions per device per step (listwise, lambda: x list_size pairs); pairs for bce"
    )
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
    save_steps: int = Field(
        500, ge=1, description="checkpoint every N updates (also after every evaluation and every save_minutes)"
    )
    save_minutes: float | None = Field(
        10.0,
        gt=0,
        description="also checkpoint when this many minutes have passed since the last checkpoint, so a killed "
        "run loses at most that much training (none: only every save_steps and at evaluations)",
    )
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept (the best one is kept as well)")
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
    resume: bool = Field(
        False, description="continue from the newest complete checkpoint in output_dir (incomplete ones are skipped)"
    )
    allow_mismatch: bool = Field(False, description=ALLOW_MISMATCH_HELP)
    report_to: list[str] = Field(["tensorboard"], description="trainer loggers ('tensorboard', 'none', ...)")


class EvaluateConfig(CommonConfig):
    """``xenc evaluate``: linking, pair and calibration metrics, plots and a report."""

    model_dir: Path = Field(Path("xenc-output/model/best"), description="trained CrossEncoder directory")
    pairs_dir: Path = Field(Path("xenc-output/pairs"), description="output of xenc mine (candidate lists and pairs)")
    split: str = Field("auto", description="split to evaluate ('auto': test when mined, else dev)")
    fusion: Literal["auto", "off"] = Field(
        "auto",
        description="auto: rank by reranker logit + w x retrieval score when the model dir has a fitted "
        "fusion weight (xenc calibrate); off: the reranker alone",
    )
    output_dir: Path = Field(Path("xenc-output/results"), description="where results, report and plots go")
    batch_size: int = Field(256, ge=1, description="pairs per scoring batch")
    max_length: int | None = Field(None, ge=8, description="max pair tokens (default: the model's)")
    threshold: float | None = Field(None, gt=0, lt=1, description="decision threshold (default: calibrated or 0.5)")
    high_confidence: float = Field(
        0.9, gt=0, lt=1, description="pair-probability level of the stage3_metrics figures (not the 'high' tier)"
    )
    n_bins: int = Field(15, ge=2, description="calibration bins")
    calibration_file: Path | None = Field(None, description="calibration.json (default: the one next to the model)")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="inference precision")
    html: bool = Field(True, description="also write report.html")
    allow_mismatch: bool = Field(False, description=ALLOW_MISMATCH_HELP)


class CalibrateConfig(CommonConfig):
    """``xenc calibrate``: fit probability calibration and per-type thresholds."""

    model_dir: Path = Field(Path("xenc-output/model/best"), description="trained CrossEncoder directory")
    pairs_dir: Path = Field(Path("xenc-output/pairs"), description="output of xenc mine")
    split: str = Field(
        "auto",
        description="split to fit on: a split held out from training ('auto': validation when mined, else dev)",
    )
    nil_simulation_share: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="share of the split's lists with a gold that are also fitted without their gold concept, "
        "as examples of a mention whose concept is not in the KB (NIL)",
    )
    methods: list[str] = Field(
        ["temperature", "platt", "isotonic"],
        description="methods compared by cross-validation",
        json_schema_extra={"registry": "xenc_toolkit.calibration.registry:CALIBRATORS"},
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
    output_file: Path | None = Field(None, description="default: the model directory's calibration file")
    fit_fusion: bool = Field(
        True,
        description="also fit the weight w of 'reranker logit + w x retrieval score' on the split's lists "
        "(saved in the model directory; used by evaluate and the Linker)",
    )
    allow_mismatch: bool = Field(False, description=ALLOW_MISMATCH_HELP)


class LinkConfig(CommonConfig):
    """``xenc link``: link mentions from a file with a trained model and an index."""

    model_dir: Path = Field(Path("xenc-output/model/best"), description="trained CrossEncoder directory")
    index_dir: Path = Field(Path("xenc-output/index"), description="index built by build-index")
    input: Path | None = Field(
        None, description="text (one mention a line), TSV (mention[<TAB>context][<TAB>type]) or JSONL"
    )
    input_format: Literal["auto", "text", "tsv", "jsonl"] = Field("auto", description="input format")
    output: Path | None = Field(
        None,
        description="output file (.jsonl, .csv, .tsv or .parquet: the format follows the extension); default: stdout",
    )
    output_format: Literal["auto", "jsonl", "tsv", "csv", "parquet"] = Field(
        "auto",
        description="output format ('auto': from the output file's extension, JSONL for any other)",
        json_schema_extra={"cli_aliases": ["--format"]},
    )
    top_k: int = Field(5, ge=1, description="alternatives reported per mention")
    n_candidates: int | None = Field(None, ge=1, description="candidates scored per mention (default: as mined)")
    batch_size: int = Field(256, ge=1, description="pairs per scoring batch")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="inference precision")
    lenient: bool = Field(False, description="count and report bad input lines instead of stopping at the first")
    allow_mismatch: bool = Field(False, description=ALLOW_MISMATCH_HELP)


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
    cross_fit_folds: int = Field(
        4, ge=0, description="mine the training mentions in this many folds, each without its own strings (0: off)"
    )
    eval_mentions: int = Field(400, ge=10, description="held-out evaluation mentions")
    validation_mentions: int = Field(
        300,
        ge=10,
        description="held-out mentions (their own block): checkpoint choice, calibration, fusion weight, NIL",
    )
    n_candidates: int = Field(8, ge=2, description="candidates per mention")
    loss: str = Field("listwise", description="training loss", json_schema_extra={"registry": LOSS_REGISTRY})
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
    "build-kb": BuildKbConfig,
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
    if not first["loc"] and message.startswith("Value error, "):  # a whole-config check names its own field
        return f"{source}: {message.removeprefix('Value error, ')}"
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


# (model field, pooling field): a model given as an option resets the config file's pooling to 'auto'
MODEL_POOLING_FIELDS = (("encoder.model", "encoder.pooling"), ("base_model", "pooling"))


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


# a command whose section a pipeline file may leave out: its fields are read from these sections instead
SECTION_FALLBACKS: dict[str, tuple[str, ...]] = {"stats": ("mine", "build-index")}


def _command_section(data: dict[str, Any], model: type[CommonConfig], path) -> dict[str, Any]:
    """A pipeline file holds one section per command (``build-index:``, ``mine:``, ...): pick this one.

    Sections may share values through YAML anchors. A file whose top-level keys are not
    command names is a plain config of this one command. A pipeline file without this command's
    section is an error naming the sections it has, except for commands with fallbacks
    (``stats`` reads the corpus and index fields of ``mine`` and the KB of ``build-index``).
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
    merged: dict[str, Any] = {}
    for fallback in SECTION_FALLBACKS.get(command, ()):  # each field from the first section that has it
        section = data.get(fallback) or data.get(fallback.replace("-", "_"))
        if isinstance(section, dict):
            merged.update({k: v for k, v in section.items() if k in model.model_fields and k not in merged})
    if merged:
        return merged
    raise ConfigError(
        f"{path}: no '{command}:' section for this command (the file has sections: "
        f"{', '.join(sorted(str(k) for k in keys))}); add one, or run without --config and pass the fields as options"
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
    given = {key for key, value in (overrides or {}).items() if value is not None}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, key, value)
    for model_key, pooling_key in MODEL_POOLING_FIELDS:
        # a model named on the command line brings its own pooling (its 1_Pooling config, else CLS):
        # the file's pooling was chosen for the file's model
        if model_key in given and pooling_key not in given and lookup(data, pooling_key) not in (None, "auto"):
            _set_dotted(data, pooling_key, "auto")
    source = str(config_file) if config_file else "config"
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None
    except RecursionError:  # a YAML alias that contains itself
        raise ConfigError(f"{source}: a value refers to itself (a recursive YAML alias)") from None
