"""How training candidate lists differ from the lists the linker reranks (CPU, no model, a minute).

    python benchmarks/training_list_shift.py            # NCBI-disease + MEDIC, and MedMentions

For the quality benchmarks' exact setups (the same hold-out, KB and cross-fit folds), each query of
each kind of list is put in one group by how its string relates to the KB it is mined against
(case, punctuation and spacing aside, ``normalize_name``):

* ``gold_exact``: a name of a gold concept is the mention string (retrieval's easy case: the
  string decides, unless another concept shares it);
* ``other_exact``: only another concept has the string as a name;
* ``no_exact``: no concept has it.

Kinds: the training lists mined without folds (every training mention's own string is in the KB:
``--cross-fit 0``), the cross-fitted training lists (each document fold against the KB without
its own strings: the default), the synonym queries (``--synonym-queries 1``: one dictionary name
per concept, mined against the KB without that name), the held-out training documents (where the
fusion weight and the checkpoint are chosen) and the evaluation lists. A reranker learns what its
training lists show; if they hold far fewer exact matches than the lists it will rerank, it learns
to discount the evidence that retrieval ranks by. Writes ``benchmarks/results/training_list_shift.json``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, medmentions_mentions, quiet_libraries, write_result  # noqa: E402
from benchmarks.quality_common import hold_out  # noqa: E402

GROUPS = ("gold_exact", "other_exact", "no_exact")


def _names_by_key(kb) -> dict[str, set[str]]:
    """normalized name -> the concept ids that have it."""
    from xenc_toolkit.api import normalize_name

    ids = kb.concept_ids
    out: dict[str, set[str]] = defaultdict(set)
    for name, concept in zip(kb.name_list, kb.name_concept.tolist(), strict=True):
        out[normalize_name(name)].add(ids[concept])
    return out


def _mention_names(mentions) -> dict[str, set[str]]:
    from xenc_toolkit.api import normalize_name

    out: dict[str, set[str]] = defaultdict(set)
    for m in mentions:
        for gold in m.gold_ids:
            out[normalize_name(m.text)].add(gold)
    return out


def _group(text: str, gold: set[str], *lookups: dict[str, set[str]], resolve=None) -> str:
    from xenc_toolkit.api import normalize_name

    key = normalize_name(text)
    owners: set[str] = set()
    for lookup in lookups:
        owners |= lookup.get(key, set())
    if resolve is not None:
        owners = {resolve(o) for o in owners}
        gold = {resolve(g) for g in gold}
    if owners & gold:
        return "gold_exact"
    return "other_exact" if owners else "no_exact"


def _shares(groups: list[str]) -> dict:
    counts = Counter(groups)
    n = len(groups)
    return {"queries": n, **{g: round(counts[g] / n, 4) if n else None for g in GROUPS}}


def _analyse(dictionary_kb, train, held, dev, folds: int, synonyms: bool, resolve=None) -> dict:
    """dictionary_kb: the KB before training-mention names are added (None: a KB of training mentions only)."""
    from xenc_toolkit.api import document_folds, synonym_queries

    base = _names_by_key(dictionary_kb) if dictionary_kb is not None else {}
    all_train = _mention_names(train)
    out = {}
    out["train_lists_without_folds"] = _shares(
        [_group(m.text, set(m.gold_ids), base, all_train, resolve=resolve) for m in train]
    )
    groups = []
    fold_lists = document_folds(train, folds, 0)
    for f, fold in enumerate(fold_lists):
        others = _mention_names([m for g, other in enumerate(fold_lists) if g != f for m in other])
        groups += [_group(m.text, set(m.gold_ids), base, others, resolve=resolve) for m in fold]
    out[f"train_lists_cross_fit_{folds}"] = _shares(groups)
    if synonyms and dictionary_kb is not None:
        from xenc_toolkit.api import normalize_name

        queries = synonym_queries(dictionary_kb, per_concept=1, seed=0)
        # each query is mined against the KB without its own name row: its string is still a name of
        # the concepts (its own included) that carry it through another row
        ids = dictionary_kb.concept_ids
        rows: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for row, (name, concept) in enumerate(
            zip(dictionary_kb.name_list, dictionary_kb.name_concept.tolist(), strict=True)
        ):
            rows[normalize_name(name)].append((row, ids[concept]))
        syn_groups = []
        for q in queries:
            key = normalize_name(q.text)
            owners = {cid for row, cid in rows[key] if row != q.extra["name_row"]} | all_train.get(key, set())
            gold = set(q.gold_ids)
            syn_groups.append("gold_exact" if owners & gold else ("other_exact" if owners else "no_exact"))
        out["synonym_queries"] = _shares(syn_groups)
        mixed = groups + syn_groups
        out[f"train_lists_cross_fit_{folds}_plus_synonym_queries"] = _shares(mixed)
    if held:
        out["held_out_training_documents"] = _shares(
            [_group(m.text, set(m.gold_ids), base, all_train, resolve=resolve) for m in held]
        )
    out["evaluation_lists"] = _shares([_group(m.text, set(m.gold_ids), base, all_train, resolve=resolve) for m in dev])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--holdout", type=float, default=0.1)
    args = parser.parse_args()
    quiet_libraries()
    from xenc_toolkit.api import block_split, load_medic, read_pubtator

    root = data_dir()
    medic = load_medic(root / "medic" / "medic_06Jul2012.txt")
    splits = {}
    for split, name in (("train", "NCBItrainset_corpus.txt"), ("dev", "NCBIdevelopset_corpus.txt")):
        splits[split] = [m for d in read_pubtator(root / "ncbi-disease" / name) for m in d.mentions]
    train, held = hold_out(splits["train"], args.holdout)

    def resolve(concept_id: str) -> str:
        """MEDIC ids with or without their namespace ("OMIM:", "MESH:") and alternative ids: one concept."""
        index = medic.resolve(concept_id)
        return medic.concept_ids[index] if index is not None else concept_id

    ncbi = _analyse(medic, train, held, splits["dev"], args.folds, synonyms=True, resolve=resolve)

    mentions = medmentions_mentions(context_window=0)
    block_split(mentions, {"train": 0.8, "dev": 0.2})
    mm_train, mm_held = hold_out([m for m in mentions if m.split == "train"], args.holdout)
    mm_dev = [m for m in mentions if m.split == "dev"]
    medmentions = _analyse(None, mm_train, mm_held, mm_dev, args.folds, synonyms=False)

    figures = {
        "ncbi_eval_gold_exact": ncbi["evaluation_lists"]["gold_exact"],
        "ncbi_train_cross_fit_gold_exact": ncbi[f"train_lists_cross_fit_{args.folds}"]["gold_exact"],
        "ncbi_train_with_synonym_queries_gold_exact": ncbi[f"train_lists_cross_fit_{args.folds}_plus_synonym_queries"][
            "gold_exact"
        ],
        "medmentions_eval_gold_exact": medmentions["evaluation_lists"]["gold_exact"],
        "medmentions_train_cross_fit_gold_exact": medmentions[f"train_lists_cross_fit_{args.folds}"]["gold_exact"],
    }
    path = write_result(
        "training_list_shift", figures, {"ncbi_disease": ncbi, "medmentions": medmentions, "folds": args.folds}
    )
    print(path)


if __name__ == "__main__":
    main()
