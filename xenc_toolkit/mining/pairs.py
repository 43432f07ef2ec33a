"""Mining: candidate lists and labelled (query, candidate) pairs for every mention.

Output directory (a ``datasets`` ``DatasetDict`` saved with ``save_to_disk``, plus extras)::

    pairs/                         load_from_disk(...) -> DatasetDict {train, dev, ...} of pairs:
                                   query, candidate, label, kind, mention_id, concept_id, gold_id, retrieval_score
    pairs/candidates/              DatasetDict of per-mention candidate lists (listwise training, evaluation)
    pairs/mining_report.json       candidate recall per generator, pairs per negative kind, KB coverage
    pairs/<input format file>     how queries and candidates were written (reranker.model_dir)
    pairs/xenc_mining.json         the mining config and the index it used
    pairs/xenc_provenance.json     the provenance record: KB, encoder, candidates, input format, index, corpus

For plain sentence-transformers training, keep the three columns the stock losses
expect: ``dataset.select_columns(["query", "candidate", "label"])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..corpora.mention import Mention
from ..errors import MissingInputError, XencError
from ..kb.model import KnowledgeBase
from ..reranker.formatting import format_query
from ..reranker.model_dir import save_input_format
from ..retrieval.candidate_generator import CandidateGenerator
from ..retrieval.candidates import CandidateLists
from ..settings import CandidateConfig, InputFormatConfig, NegativesConfig
from ..utils.io import atomic_directory, atomic_write_json, read_json
from ..utils.progress import log
from ..utils.provenance import new_record, write_record
from ..utils.rowsets import RowSets
from .columns import KBColumns
from .name_keys import NameKeys
from .negatives import NegativeSampler
from .table import BestNames, CandidateTable, list_columns, pair_columns

PAIR_COLUMNS = ["query", "candidate", "label", "kind", "mention_id", "concept_id", "gold_id", "retrieval_score"]


def _pair_features():
    from datasets import Features, Value

    return Features(
        {
            "query": Value("string"),
            "candidate": Value("string"),
            "label": Value("float32"),
            "kind": Value("string"),
            "mention_id": Value("string"),
            "concept_id": Value("string"),
            "gold_id": Value("string"),
            "retrieval_score": Value("float32"),
        }
    )


def _list_features():
    from datasets import Features, List, Value

    return Features(
        {
            "mention_id": Value("string"),
            "doc_id": Value("string"),
            "mention": Value("string"),
            "query": Value("string"),
            "gold_ids": List(Value("string")),
            "gold_types": List(Value("string")),
            "gold_in_kb": Value("bool"),
            "gold_rank": Value("int32"),
            "gold_inserted": Value("bool"),
            "candidate_ids": List(Value("string")),
            "candidate_texts": List(Value("string")),
            "candidate_names": List(Value("string")),
            "candidate_types": List(List(Value("string"))),
            "retrieval_scores": List(Value("float32")),
            "labels": List(Value("int8")),
        }
    )


def _fingerprint(table) -> str:
    """A hash of the table's Arrow buffers (``datasets`` would pickle the whole table to get one)."""
    import xxhash

    digest = xxhash.xxh64(str(table.schema).encode())
    for column in table.columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return digest.hexdigest()


def _dataset(columns: dict[str, Any], features):
    """A datasets.Dataset straight from columns (Python lists, numpy or Arrow arrays) through Arrow."""
    import pyarrow as pa
    from datasets import Dataset

    table = pa.table({name: columns[name] for name in features}, schema=features.arrow_schema)
    return Dataset(table, fingerprint=_fingerprint(table))


def resolve_gold(kb: KnowledgeBase, gold_ids: Sequence[str]) -> frozenset[int]:
    """The KB concepts of a mention's gold ids that can be candidates: known to the KB and with a name."""
    out = set()
    has_names = kb.concept_has_names
    for gid in gold_ids:
        index = kb.resolve(gid)
        if index is not None and has_names[index]:
            out.add(index)
    return frozenset(out)


def gold_without_names(kb: KnowledgeBase, gold_ids: Sequence[str]) -> bool:
    """Whether a gold id is a concept of ``kb`` left without any name (so it cannot be retrieved)."""
    has_names = kb.concept_has_names
    return any((index := kb.resolve(gid)) is not None and not has_names[index] for gid in gold_ids)


@dataclass
class MiningResult:
    pairs: Any  # datasets.DatasetDict
    candidates: Any  # datasets.DatasetDict
    report: dict[str, Any]
    input_format: InputFormatConfig


class MiningSettings(Protocol):
    """What mining reads of its configuration (``MineConfig`` has these fields, among others)."""

    candidates: CandidateConfig
    negatives: NegativesConfig
    input_format: InputFormatConfig
    include_gold_in_train_lists: bool
    max_mentions: int | None
    seed: int


class Miner:
    """Runs candidate generation and negative sampling for mentions against a KB/index.

    After retrieval, a split is mined on arrays for all its mentions at once: labels, training-list
    edits, positives, negatives (:meth:`NegativeSampler.sample_batch`) and Arrow columns
    (:class:`KBColumns`); only queries, gold resolution and best-name matching of unretrieved
    golds are per mention.
    """

    def __init__(self, kb: KnowledgeBase, cfg: MiningSettings, dense_index=None, device: str | None = None):
        self.kb = kb
        self.cfg = cfg
        self.fmt = cfg.input_format
        self.generator = CandidateGenerator(kb, cfg.candidates, dense_index=dense_index, device=device)
        keys = NameKeys(kb)
        self.sampler = NegativeSampler(kb, cfg.negatives, seed=cfg.seed, name_keys=keys)
        self.columns = KBColumns(kb, self.fmt, name_keys=keys)
        self.best_names = BestNames(kb, keys)

    def candidate_text(self, concept: int, name_row: int) -> str:
        """The candidate text of a concept shown under one of its names."""
        return self.columns.texts(np.array([concept]), np.array([name_row]))[0].as_py()

    def queries(self, mentions: Sequence[Mention]) -> list[str]:
        return [format_query(m.text, m.left_context, m.right_context, self.fmt) for m in mentions]

    def mine_split(self, split: str, mentions: Sequence[Mention], training: bool) -> tuple[dict, dict, dict]:
        kb = self.kb
        queries = self.queries(mentions)
        texts = [m.text for m in mentions]
        dense_texts = queries if self.cfg.candidates.dense_context else texts
        lists = self.generator.generate(texts, dense_texts)
        final: CandidateLists = lists["final"]
        golds = [resolve_gold(kb, m.gold_ids) for m in mentions]
        gold = RowSets.from_sets(golds)
        report: dict[str, Any] = {
            "mentions": len(mentions),
            "unlinkable": sum(1 for m in mentions if not m.gold_ids),
            "gold_not_in_kb": sum(1 for m, g in zip(mentions, golds, strict=True) if m.gold_ids and not g),
            # of those, golds that are KB concepts left without names (a reduced fold KB): not candidates here
            "gold_without_names": sum(
                1
                for m, g in zip(mentions, golds, strict=True)
                if m.gold_ids and not g and gold_without_names(kb, m.gold_ids)
            ),
            "candidate_depth": final.depth,
            "recall": {},
        }
        missing_examples = [
            m.mention_id + " " + "|".join(m.gold_ids)
            for m, g in zip(mentions, golds, strict=True)
            if m.gold_ids and not g
        ][:10]
        report["gold_not_in_kb_examples"] = missing_examples
        depth = final.depth
        for name, cl in lists.items():
            if name == "final":
                continue
            ranks = cl.gold_ranks(gold)
            report["recall"][name] = {
                f"recall@{k}": round(cl.recall_at(ranks, k), 4) for k in sorted({1, 5, 10, depth}) if k <= depth
            }
        log(f"mining {split}: lists, positives and negatives of {len(mentions):,} mentions")
        table = CandidateTable.build(final, gold, texts, self.sampler, self.best_names)
        entries = table.list_entries(training, self.cfg.include_gold_in_train_lists)
        if entries.synonyms_dropped:
            report["train_list_synonyms_dropped"] = entries.synonyms_dropped
        pairs = table.pairs(self.sampler)
        texts_all = self.columns.texts(
            np.concatenate([entries.concepts, pairs.concepts]), np.concatenate([entries.names, pairs.names])
        )
        list_rows = list_columns(mentions, queries, table, entries, self.columns, texts_all.slice(0, len(entries)))
        pair_rows = pair_columns(mentions, queries, table, pairs, self.columns, texts_all.slice(len(entries)))
        report["pairs"] = pairs.counts()
        report["pairs_total"] = len(pairs)
        return pair_rows, list_rows, report

    def datasets(self, pair_rows: dict, list_rows: dict) -> tuple[Any, Any]:
        """The pairs and candidate-list datasets of one split from :meth:`mine_split`'s columns."""
        return _dataset(pair_rows, _pair_features()), _dataset(list_rows, _list_features())

    def mine(self, mentions_by_split: dict[str, Sequence[Mention]]) -> MiningResult:
        from datasets import DatasetDict

        pairs, lists, report = {}, {}, {"splits": {}}
        for split, mentions in mentions_by_split.items():
            if not mentions:
                raise XencError(f"split {split!r} has no mentions to mine")
            if self.cfg.max_mentions:
                mentions = list(mentions)[: self.cfg.max_mentions]
            log(f"mining {len(mentions):,} {split} mentions")
            pair_rows, list_rows, split_report = self.mine_split(split, mentions, training=split == "train")
            pairs[split], lists[split] = self.datasets(pair_rows, list_rows)
            report["splits"][split] = split_report
        report["false_negatives_filtered"] = dict(self.sampler.filtered)
        report["kb"] = {"concepts": self.kb.n_concepts, "names": self.kb.n_names, "checksum": self.kb.checksum}
        return MiningResult(DatasetDict(pairs), DatasetDict(lists), report, self.fmt)


def save_mining(
    result: MiningResult,
    output_dir: str | Path,
    config: Any = None,
    index_manifest: dict | None = None,
    provenance: dict | None = None,
) -> Path:
    """Write pairs, candidate lists, the report, the input format and ``xenc_mining.json`` (``config``: the
    mining config, a dict or a pydantic model, ``index_manifest``: the index's) into ``output_dir``, atomically.

    ``provenance``: the fields of the pairs' provenance record (:mod:`xenc_toolkit.utils.provenance`).
    """
    output_dir = Path(output_dir)
    with atomic_directory(output_dir) as tmp:
        result.pairs.save_to_disk(str(tmp))
        result.candidates.save_to_disk(str(tmp / "candidates"))
        atomic_write_json(tmp / "mining_report.json", result.report)
        save_input_format(result.input_format, tmp)
        atomic_write_json(
            tmp / "xenc_mining.json",
            {
                "config": config.model_dump(mode="json") if hasattr(config, "model_dump") else config,
                "index": index_manifest,
            },
        )
        write_record(tmp, new_record("pairs", input_format=result.input_format.model_dump(), **(provenance or {})))
    return output_dir


def _load_dataset_dict(path: Path):
    """A saved DatasetDict, split by split: a split saved with no rows (which ``datasets`` cannot
    read back) comes back as an empty dataset with its features, so callers can say which is empty."""
    from datasets import Dataset, DatasetDict, Features

    splits = {}
    for split in read_json(path / "dataset_dict.json")["splits"]:
        state = path / split / "state.json"
        if not state.is_file() or read_json(state).get("_data_files", True):
            splits[split] = Dataset.load_from_disk(str(path / split))
        else:
            features = Features.from_dict(read_json(path / split / "dataset_info.json")["features"])
            splits[split] = Dataset.from_dict({name: [] for name in features}, features=features)
    return DatasetDict(splits)


def load_pairs(pairs_dir: str | Path):
    pairs_dir = Path(pairs_dir)
    if not (pairs_dir / "dataset_dict.json").exists():
        raise MissingInputError(pairs_dir, "pairs directory (run `xenc mine` first)")
    return _load_dataset_dict(pairs_dir)


def load_candidate_lists(pairs_dir: str | Path, split: str | None = None):
    path = Path(pairs_dir) / "candidates"
    if not (path / "dataset_dict.json").exists():
        raise MissingInputError(path, "candidate lists (run `xenc mine` first)")
    lists = _load_dataset_dict(path)
    if split is None:
        return lists
    if split not in lists:
        raise XencError(f"{path}: no split {split!r} (available: {', '.join(lists.keys())})")
    if not len(lists[split]):
        raise XencError(f"{path}: split {split!r} holds no candidate lists (mine it again)")
    return lists[split]


def require_pairs(result: MiningResult) -> None:
    """Raise when a mined split produced no pair: nothing could be trained or evaluated on it."""
    for split, dataset in result.pairs.items():
        if len(dataset):
            continue
        info = result.report.get("splits", {}).get(split, {})
        mentions, missing, unlinkable = (info.get(k, 0) for k in ("mentions", "gold_not_in_kb", "unlinkable"))
        examples = ", ".join(info.get("gold_not_in_kb_examples", [])[:3])
        why = (
            f"none of its {mentions:,} mentions has a gold concept in the KB ({missing:,} with gold ids not in the "
            f"KB{f', e.g. {examples}' if examples else ''}; {unlinkable:,} unlinkable); check corpus.id_prefix "
            "and that the KB covers the corpus"
            if missing + unlinkable >= mentions
            else f"{mentions:,} mentions, {missing:,} with gold ids not in the KB; check the negatives settings"
        )
        raise XencError(f"split {split!r} produced no pairs: {why}")


def load_mining_report(pairs_dir: str | Path) -> dict:
    path = Path(pairs_dir) / "mining_report.json"
    return read_json(path) if path.exists() else {}


def to_input_examples(dataset) -> list:
    """Adapter for the older ``CrossEncoder.fit`` API: one ``InputExample`` per pair."""
    from sentence_transformers.sentence_transformer.readers import InputExample

    return [
        InputExample(guid=f"{m}:{c}", texts=[q, d], label=float(y))
        for q, d, y, m, c in zip(
            dataset["query"],
            dataset["candidate"],
            dataset["label"],
            dataset["mention_id"],
            dataset["concept_id"],
            strict=True,
        )
    ]
