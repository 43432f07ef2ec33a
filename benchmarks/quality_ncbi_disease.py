"""NCBI-disease (train -> dev) linked to the MEDIC dictionary: retrieval baselines, the stock recipe, xenc.

    python benchmarks/quality_ncbi_disease.py                      # GPU when present, else CPU
    python benchmarks/quality_ncbi_disease.py --no-augment         # KB = MEDIC alone
    python benchmarks/quality_ncbi_disease.py --abbreviations      # resolve in-document abbreviations
    python benchmarks/quality_ncbi_disease.py --epochs 3 --synonym-queries 1   # the published run

The KB is MEDIC; with ``--augment`` (default, opt-in in the toolkit: ``add_training_mentions``)
the training split's mention strings are added as names of their gold concepts (never
evaluation strings, nor those of the training documents held out for the fusion weight). Composite mentions (several gold ids) count as correct when any gold
concept is ranked first.

``--abbreviations`` (off by default; the toolkit's ``corpus.expand_abbreviations``) links train
and dev mentions that are short forms defined in their abstract ("DMD") through the long form
("Duchenne muscular dystrophy"); the KB keeps the surface strings, so it is the same either way.
Off by default because it does not help retrieval with the augmented KB, whose training short
forms already name their concepts: dev acc@1 TF-IDF 0.8069 -> 0.8081, bi-encoder 0.8729 -> 0.8691,
fusion 0.8374 -> 0.8285 (CPU, ``benchmarks/abbreviations_effect.py --dense``); with MEDIC alone
(``--no-augment``) it gains 1.8 (fusion) to 3.1 (bi-encoder) points. The reranker's effect is
unmeasured.

``--synonym-queries 1`` adds one MEDIC name per concept with other names (9,653) as extra training
lists, each mined against the KB without that name (``xenc_toolkit.mining.synonyms``): fused
dev acc@1 0.881-0.886 without, 0.883-0.8971 over fourteen trainings with (H100, 2026-11-26).

``--seeds 0,1,2`` trains one reranker per seed on the same pairs and reports the one best on the
held-out training documents (all seeds and their mean logit are in ``details.xenc.seeds``);
``--dump DIR`` keeps the held-out and dev lists, the logits and the KB for
``benchmarks/fusion_features.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, quiet_libraries  # noqa: E402
from benchmarks.quality_common import add_recipe_arguments, run  # noqa: E402


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--max-train", type=int, default=None, help="cap on training mentions (CPU runs)")
    parser.add_argument(
        "--abbreviations",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="link short forms defined in their abstract through the long form (corpus.expand_abbreviations)",
    )
    add_recipe_arguments(
        parser,
        max_length=64,
        context_words=0,
        candidate_types=False,
        same_name_filter=True,
        same_name_why="MEDIC: a shared name is a synonym",
    )
    return parser


def dataset(args: argparse.Namespace):
    """(training mentions, evaluation mentions, build_kb, dataset details) for :func:`run`."""
    from xenc_toolkit.api import add_mention_names, expand_abbreviations, load_medic, read_pubtator

    root = data_dir()
    kb = load_medic(root / "medic" / "medic_06Jul2012.txt")
    splits = {}
    expanded = {}
    for split, name in (("train", "NCBItrainset_corpus.txt"), ("dev", "NCBIdevelopset_corpus.txt")):
        documents = read_pubtator(root / "ncbi-disease" / name)
        splits[split] = [m for d in documents for m in d.mentions]
        if args.abbreviations:
            splits[split], report = expand_abbreviations(splits[split], {d.pmid: d.text for d in documents})
            expanded[split] = report.mentions_expanded
    train, dev = splits["train"], splits["dev"]
    if args.max_train:
        train = train[: args.max_train]

    def build_kb(kept):
        """MEDIC, plus (``--augment``) the names of the training mentions left after the hold-out."""
        if not args.augment:
            return kb, {"training_mention_names_added": 0}
        augmented, added = add_mention_names(kb, kept)  # surface strings: the same KB with --abbreviations
        return augmented, {"training_mention_names_added": added}

    details = {
        "train_mentions": len(train),
        "dev_mentions": len(dev),
        "kb": "MEDIC 2012-07-06",
        "augmented": args.augment,
        "abbreviations_expanded": expanded if args.abbreviations else None,
    }
    return train, dev, build_kb, details


def main() -> None:
    args = parser().parse_args()
    quiet_libraries()
    train, dev, build_kb, details = dataset(args)
    run("quality_ncbi_disease", train, dev, build_kb, args, details)


if __name__ == "__main__":
    main()
