"""Mining: candidate lists and labelled (query, candidate) pairs for every mention.

Output directory (a ``datasets`` ``DatasetDict`` saved with ``save_to_disk``, plus extras)::

    pairs/                         load_from_disk(...) -> DatasetDict {train, dev, ...} of pairs:
                                   query, candidate, label, kind, mention_id, concept_id, gold_id, retrieval_score
    pairs/candidates/              DatasetDict of per-mention candidate lists (listwise training, evaluation)
    pairs/mining_report.json       candidate recall per generator, pairs per negative kind, KB coverage
    pairs/xenc_input_format.json   how queries and candidates were written
    pairs/xenc_mining.json         the mining config and the index it used

For plain sentence-transformers training, keep the three columns the stock losses
expect: ``dataset.select_columns(["query", "candidate", "label"])``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import InputFormatConfig, MineConfig, dump_config
from ..corpora.mention import Mention
from ..errors import MissingInputError, XencError
from ..kb.model import KnowledgeBase
from ..kb.normalize import normalize_name
from ..utils.io import atomic_directory, atomic_write_json, read_json
from ..utils.progress import log, track
from .candidates import CandidateGenerator, CandidateLists
from .formatting import format_candidate, format_query, save_input_format
from .negatives import NegativeSampler

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


def _dataset(columns: dict[str, list], features):
    """A datasets.Dataset straight from Python columns through Arrow (no per-value feature encoding)."""
    import pyarrow as pa
    from datasets import Dataset

    table = pa.table({name: columns[name] for name in features}, schema=features.arrow_schema)
    return Dataset(table)


def _trigrams(text: str) -> set[str]:
    text = f"  {normalize_name(text)}  "
    return {text[i : i + 3] for i in range(len(text) - 2)}


def best_name_row(kb: KnowledgeBase, concept: int, mention: str) -> int:
    """The concept's name most similar to ``mention`` by character-trigram Jaccard."""
    rows = kb.names_of(concept)
    if len(rows) == 1:
        return int(rows[0])
    target = _trigrams(mention)
    names = kb.name_list
    best, best_score = int(rows[0]), -1.0
    for row in rows.tolist():
        grams = _trigrams(names[row])
        score = len(target & grams) / max(1, len(target | grams))
        if score > best_score:
            best, best_score = row, score
    return best


def resolve_gold(kb: KnowledgeBase, gold_ids: Sequence[str]) -> frozenset[int]:
    out = set()
    for gid in gold_ids:
        index = kb.resolve(gid)
        if index is not None:
            out.add(index)
    return frozenset(out)


@dataclass
class MiningResult:
    pairs: Any  # datasets.DatasetDict
    candidates: Any  # datasets.DatasetDict
    report: dict[str, Any]
    input_format: InputFormatConfig


class Miner:
    """Runs candidate generation and negative sampling for mentions against a KB/index."""

    def __init__(self, kb: KnowledgeBase, cfg: MineConfig, dense_index=None, device: str | None = None):
        self.kb = kb
        self.cfg = cfg
        self.fmt = cfg.input_format
        self.generator = CandidateGenerator(kb, cfg.candidates, dense_index=dense_index, device=device)
        self.sampler = NegativeSampler(kb, cfg.negatives, seed=cfg.seed)
        self._texts: dict[tuple[int, int], str] = {}

    def candidate_text(self, concept: int, name_row: int) -> str:
        """The candidate text of a concept shown under one of its names (cached: candidates repeat a lot)."""
        key = (concept, name_row)
        text = self._texts.get(key)
        if text is None:
            kb = self.kb
            name = kb.name_list[name_row] if name_row >= 0 else kb.preferred_names[concept]
            types = kb.type_names_of(concept) if self.fmt.candidate_types else ()
            text = self._texts[key] = format_candidate(name, kb.preferred_names[concept], types, self.fmt)
        return text

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
        report: dict[str, Any] = {
            "mentions": len(mentions),
            "unlinkable": sum(1 for m in mentions if not m.gold_ids),
            "gold_not_in_kb": sum(1 for m, g in zip(mentions, golds, strict=True) if m.gold_ids and not g),
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
            ranks = cl.gold_ranks(golds)
            report["recall"][name] = {
                f"recall@{k}": round(cl.recall_at(ranks, k), 4) for k in sorted({1, 5, 10, depth}) if k <= depth
            }
        ranks = final.gold_ranks(golds)
        pair_rows: dict[str, list] = {c: [] for c in PAIR_COLUMNS}
        list_rows: dict[str, list] = {c: [] for c in _list_features()}
        kinds: Counter = Counter()
        for i, mention in enumerate(track(mentions, f"mining {split}")):
            gold = golds[i]
            concepts, scores, names = final.concepts[i], final.scores[i], final.names[i]
            # one entry per candidate: (concept, name row, retrieval score, label)
            entries = [
                (int(c), int(n), float(sc), int(int(c) in gold))
                for c, n, sc in zip(concepts, names, scores, strict=True)
                if c >= 0
            ]
            inserted = False
            if training and gold:
                # a negative sharing a normalised name with the gold is a synonym, not a negative: drop it
                # from training lists (evaluation lists keep every candidate)
                kept = [e for e in entries if e[3] or not self.sampler.is_false_negative(e[0], gold)]
                dropped = len(entries) - len(kept)
                if dropped:
                    report["train_list_synonyms_dropped"] = report.get("train_list_synonyms_dropped", 0) + dropped
                entries = kept
                if ranks[i] < 0 and self.cfg.include_gold_in_train_lists:
                    g = min(gold)
                    entries = entries[: depth - 1] + [(g, best_name_row(kb, g, mention.text), float("nan"), 1)]
                    inserted = True
            gold_types = sorted({t for g in gold for t in kb.types_of(g)}) or list(mention.types)
            list_rows["mention_id"].append(mention.mention_id)
            list_rows["doc_id"].append(mention.doc_id)
            list_rows["mention"].append(mention.text)
            list_rows["query"].append(queries[i])
            list_rows["gold_ids"].append(list(mention.gold_ids))
            list_rows["gold_types"].append(gold_types)
            list_rows["gold_in_kb"].append(bool(gold))
            list_rows["gold_rank"].append(int(ranks[i]))
            list_rows["gold_inserted"].append(inserted)
            list_rows["candidate_ids"].append([kb.concept_ids[c] for c, _, _, _ in entries])
            list_rows["candidate_texts"].append([self.candidate_text(c, n) for c, n, _, _ in entries])
            list_rows["candidate_names"].append(
                [kb.name_list[n] if n >= 0 else kb.preferred_names[c] for c, n, _, _ in entries]
            )
            list_rows["candidate_types"].append([list(kb.types_of(c)) for c, _, _, _ in entries])
            list_rows["retrieval_scores"].append([sc for _, _, sc, _ in entries])
            list_rows["labels"].append([y for _, _, _, y in entries])
            if not gold:
                continue  # unlinkable or not in the KB: no pairs, counted in the report
            gold_id = kb.concept_ids[min(gold)]
            # positives: every gold concept, with its best-matching name
            gold_score = None
            for g in sorted(gold):
                hit = np.nonzero(concepts == g)[0]
                if len(hit):
                    name_row, score = int(names[hit[0]]), float(scores[hit[0]])
                    gold_score = score if gold_score is None else max(gold_score, score)
                else:
                    name_row, score = best_name_row(kb, g, mention.text), float("nan")
                self._add_pair(
                    pair_rows,
                    queries[i],
                    self.candidate_text(g, name_row),
                    1.0,
                    "positive",
                    mention,
                    kb.concept_ids[g],
                    gold_id,
                    score,
                )
                kinds["positive"] += 1
            for neg in self.sampler.sample(gold, concepts, scores, names, gold_score):
                self._add_pair(
                    pair_rows,
                    queries[i],
                    self.candidate_text(neg.concept, neg.name),
                    0.0,
                    neg.kind,
                    mention,
                    kb.concept_ids[neg.concept],
                    gold_id,
                    neg.score,
                )
                kinds[neg.kind] += 1
        report["pairs"] = dict(kinds)
        report["pairs_total"] = sum(kinds.values())
        return pair_rows, list_rows, report

    @staticmethod
    def _add_pair(rows, query, candidate, label, kind, mention, concept_id, gold_id, score) -> None:
        rows["query"].append(query)
        rows["candidate"].append(candidate)
        rows["label"].append(label)
        rows["kind"].append(kind)
        rows["mention_id"].append(mention.mention_id)
        rows["concept_id"].append(concept_id)
        rows["gold_id"].append(gold_id)
        rows["retrieval_score"].append(score)

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
            pairs[split] = _dataset(pair_rows, _pair_features())
            lists[split] = _dataset(list_rows, _list_features())
            report["splits"][split] = split_report
        report["false_negatives_filtered"] = dict(self.sampler.filtered)
        report["kb"] = {"concepts": self.kb.n_concepts, "names": self.kb.n_names, "checksum": self.kb.checksum}
        return MiningResult(DatasetDict(pairs), DatasetDict(lists), report, self.fmt)


def save_mining(
    result: MiningResult, output_dir: str | Path, config: MineConfig | None = None, index_manifest: dict | None = None
) -> Path:
    output_dir = Path(output_dir)
    with atomic_directory(output_dir) as tmp:
        result.pairs.save_to_disk(str(tmp))
        result.candidates.save_to_disk(str(tmp / "candidates"))
        atomic_write_json(tmp / "mining_report.json", result.report)
        save_input_format(result.input_format, tmp)
        atomic_write_json(
            tmp / "xenc_mining.json",
            {"config": dump_config(config) if config else None, "index": index_manifest},
        )
    return output_dir


def load_pairs(pairs_dir: str | Path):
    from datasets import load_from_disk

    pairs_dir = Path(pairs_dir)
    if not (pairs_dir / "dataset_dict.json").exists():
        raise MissingInputError(pairs_dir, "pairs directory (run `xenc mine` first)")
    return load_from_disk(str(pairs_dir))


def load_candidate_lists(pairs_dir: str | Path, split: str | None = None):
    from datasets import load_from_disk

    path = Path(pairs_dir) / "candidates"
    if not (path / "dataset_dict.json").exists():
        raise MissingInputError(path, "candidate lists (run `xenc mine` first)")
    lists = load_from_disk(str(path))
    if split is None:
        return lists
    if split not in lists:
        raise XencError(f"{path}: no split {split!r} (available: {', '.join(lists.keys())})")
    return lists[split]


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
