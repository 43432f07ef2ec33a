"""Effect of in-document abbreviation resolution on NCBI-disease dev retrieval (CPU).

    python benchmarks/abbreviations_effect.py            # TF-IDF only (seconds)
    python benchmarks/abbreviations_effect.py --dense    # + bi-encoder and fusion (~8 min per KB on 2 cores)

Dev mentions are retrieved once as written and once with the short forms defined in their
document resolved to the long form (``corpus.expand_abbreviations``;
:mod:`xenc_toolkit.corpora.abbreviations`), against two KBs:

* ``medic+train`` (the figures without prefix): the KB of ``quality_ncbi_disease.py``, MEDIC plus
  the training split's mention strings as names of their gold concepts (surface strings, so the
  same KB with or without the expansion; "DMD" is then a name of Duchenne muscular dystrophy);
* ``medic`` (figures prefixed ``medic_only_``): MEDIC alone, as ``quality_ncbi_disease.py --no-augment``.

Generators are the toolkit's (``CandidateGenerator``, 16 concepts per mention as the quality
benchmark): character 3-gram TF-IDF, and with ``--dense`` the offline all-MiniLM-L6-v2
bi-encoder and the dense + TF-IDF reciprocal-rank fusion (the lists the reranker reorders).
acc@1 counts a composite mention as correct when any gold concept is ranked first.
Writes ``benchmarks/results/abbreviations_effect.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, minilm_path, quiet_libraries, write_result  # noqa: E402


def _acc(ranks, k: int = 1) -> float:
    import numpy as np

    return round(float(np.mean((ranks >= 0) & (ranks < k))), 4) if len(ranks) else float("nan")


def _compare(kb, dev, expanded, args, work: Path) -> tuple[dict, list[str]]:
    """acc@1 / recall@k per generator, without and with the expansion, on one KB."""
    import numpy as np

    from xenc_toolkit.api import CandidateGenerator, DenseIndex, resolve_gold
    from xenc_toolkit.config import CandidateConfig, EncoderConfig, IndexConfig

    index = None
    if args.dense:
        index = DenseIndex.build(kb, EncoderConfig(model=minilm_path(), batch_size=512), IndexConfig(), work)
    generator = CandidateGenerator(
        kb, CandidateConfig(generator="fusion" if args.dense else "tfidf", n_candidates=args.k), dense_index=index
    )
    golds = [resolve_gold(kb, m.gold_ids) for m in dev]
    plain = {n: cl.gold_ranks(golds) for n, cl in generator.generate([m.text for m in dev]).items() if n != "final"}
    exp = {n: cl.gold_ranks(golds) for n, cl in generator.generate([m.text for m in expanded]).items() if n != "final"}
    was_expanded = np.asarray([m.original_text is not None for m in expanded])
    figures: dict = {}
    changed: list[str] = []
    for name, label in (("tfidf", "tfidf"), ("dense", "biencoder"), ("fusion", "fusion")):
        if name not in plain:
            continue
        a, b = plain[name], exp[name]
        figures[f"{label}_acc1_without"] = _acc(a)
        figures[f"{label}_acc1_with"] = _acc(b)
        figures[f"{label}_recall{args.k}_without"] = _acc(a, args.k)
        figures[f"{label}_recall{args.k}_with"] = _acc(b, args.k)
        figures[f"{label}_expanded_subset_acc1_without"] = _acc(a[was_expanded])
        figures[f"{label}_expanded_subset_acc1_with"] = _acc(b[was_expanded])
        figures[f"{label}_fixed"] = int(np.sum(was_expanded & (a != 0) & (b == 0)))
        figures[f"{label}_broken"] = int(np.sum(was_expanded & (a == 0) & (b != 0)))
        for m, before, after in zip(expanded, a, b, strict=True):
            if m.original_text is not None and (before == 0) != (after == 0):
                verdict = "fixed" if after == 0 else "broken"
                changed.append(
                    f"{label} {verdict}: {m.doc_id} {m.original_text!r} -> {m.text!r} ({'|'.join(m.gold_ids)})"
                )
    return figures, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=16, help="concepts per mention (as quality_ncbi_disease)")
    parser.add_argument("--dense", action="store_true", help="also the bi-encoder and the fusion (MiniLM, CPU)")
    args = parser.parse_args()
    quiet_libraries()
    from xenc_toolkit.api import add_mention_names, expand_abbreviations, load_medic, read_pubtator

    root = data_dir()
    t0 = time.perf_counter()
    medic = load_medic(root / "medic" / "medic_06Jul2012.txt")
    train_docs = read_pubtator(root / "ncbi-disease" / "NCBItrainset_corpus.txt")
    dev_docs = read_pubtator(root / "ncbi-disease" / "NCBIdevelopset_corpus.txt")
    train = [m for d in train_docs for m in d.mentions]
    dev = [m for d in dev_docs for m in d.mentions]
    augmented, added = add_mention_names(medic, train)
    expanded, report = expand_abbreviations(dev, {d.pmid: d.text for d in dev_docs})
    _, train_report = expand_abbreviations(train, {d.pmid: d.text for d in train_docs})

    work = Path(tempfile.mkdtemp(prefix="xenc-abbreviations-"))
    figures: dict = {
        "dev_mentions": len(dev),
        "dev_mentions_expanded": report.mentions_expanded,
        "dev_plural_expanded": report.plural_expanded,
        "train_mentions_expanded": train_report.mentions_expanded,
    }
    details: dict = {"k": args.k, "training_mention_names_added": added, "changed": {}}
    for prefix, kb, label in (("", augmented, "medic+train"), ("medic_only_", medic, "medic")):
        found, changed = _compare(kb, dev, expanded, args, work / label.replace("+", "_"))
        figures.update({prefix + key: value for key, value in found.items()})
        details["changed"][label] = changed
        details[f"kb_{label}"] = kb.summary()
    details["dev_expansion"] = report.to_dict()
    details["train_expansion"] = {k: v for k, v in train_report.to_dict().items() if k != "examples"}
    details["seconds"] = round(time.perf_counter() - t0, 1)
    write_result("abbreviations_effect", figures, details)


if __name__ == "__main__":
    main()
