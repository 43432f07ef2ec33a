"""What several commands read: the configured corpus and KB, split by split, with skips reported."""

from __future__ import annotations

from ..errors import ConfigError, SkipReport
from ..utils.progress import log


def print_skips(report: SkipReport) -> None:
    for line in report.summary_lines():
        log(line, style="yellow")


def load_corpus(corpus_cfg, what: str):
    """The mentions of ``corpus_cfg`` (any format); ``what`` names the command in errors."""
    from ..corpora import load_corpus as _load_corpus

    if corpus_cfg.path is None and not corpus_cfg.files:
        raise ConfigError(
            f"{what}: corpus.path (--corpus-path) is required (a PubTator, BIO or JSONL file), or one file per "
            "split in corpus.files (--corpus-files train=train.txt,dev=dev.txt,test=test.txt)"
        )
    report = SkipReport(lenient=corpus_cfg.lenient)
    mentions = _load_corpus(corpus_cfg, report)
    print_skips(report)
    return mentions


def load_kb(kb_cfg, what: str):
    """The knowledge base of ``kb_cfg`` (any format, cached); ``what`` names the command in errors."""
    from ..kb import load_kb as _load_kb

    if kb_cfg.path is None:
        raise ConfigError(f"{what}: field 'kb.path' is required (UMLS META dir, dictionary, TSV or saved KB)")
    report = SkipReport(lenient=kb_cfg.lenient)
    kb = _load_kb(kb_cfg, report)
    print_skips(report)
    return kb


def filtered_kb(kb_cfg, what: str):
    """:func:`load_kb`, with the semantic-type filters applied to a saved KB too (loaders filter the others)."""
    kb = load_kb(kb_cfg, what)
    if kb.metadata.get("source") == "saved":
        kb = kb.filter_types(kb_cfg.semantic_types, kb_cfg.semantic_groups)
    return kb


def by_split(mentions, splits: list[str]) -> dict[str, list]:
    """``{split: mentions}`` for the splits asked for; a clear error when one has no mentions."""
    from ..corpora import mentions_by_split

    grouped = mentions_by_split(mentions)
    missing = [s for s in splits if not grouped.get(s)]
    if missing:
        available = sorted(str(k) for k in grouped if k is not None)
        raise ConfigError(
            f"no mentions in split(s) {', '.join(missing)} (splits present: {', '.join(available) or 'none'}); "
            "give one corpus file per split (--corpus-files train=a.txt,dev=b.txt), PMID lists for one file "
            "(--corpus-split-files train=pmids_a.txt,dev=pmids_b.txt) or BIO block fractions "
            "(--corpus-bio-split train=0.8,dev=0.2)"
        )
    return {s: grouped[s] for s in splits}


def corpus_checksum(corpus_cfg) -> dict | None:
    """The ``corpus`` field of a provenance record: the corpus file and split files, with the BIO split."""
    from ..utils.provenance import files_checksum

    paths = {"corpus": corpus_cfg.path, **{f"split:{k}": v for k, v in corpus_cfg.split_files.items()}}
    return files_checksum(paths, bio_split=dict(corpus_cfg.bio_split))
