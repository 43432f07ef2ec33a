"""NCBI-disease (train -> dev) linked to the MEDIC dictionary: retrieval baselines, the stock recipe, xenc.

    python benchmarks/quality_ncbi_disease.py                      # GPU when present, else CPU
    python benchmarks/quality_ncbi_disease.py --no-augment         # KB = MEDIC alone

The KB is MEDIC; with ``--augment`` (default, opt-in in the toolkit: ``add_training_mentions``)
the training split's mention strings are added as names of their gold concepts (never
evaluation strings). Composite mentions (several gold ids) count as correct when any gold
concept is ranked first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_dir, quiet_libraries  # noqa: E402
from benchmarks.quality_common import add_recipe_arguments, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--max-train", type=int, default=None, help="cap on training mentions (CPU runs)")
    add_recipe_arguments(
        parser,
        max_length=64,
        context_words=0,
        candidate_types=False,
        same_name_filter=True,
        same_name_why="MEDIC: a shared name is a synonym",
    )
    args = parser.parse_args()
    quiet_libraries()
    from xenc_toolkit.corpora import read_pubtator
    from xenc_toolkit.kb import load_medic
    from xenc_toolkit.kb.from_corpus import add_mention_names

    root = data_dir()
    kb = load_medic(root / "medic" / "medic_06Jul2012.txt")
    train = [m for d in read_pubtator(root / "ncbi-disease" / "NCBItrainset_corpus.txt") for m in d.mentions]
    dev = [m for d in read_pubtator(root / "ncbi-disease" / "NCBIdevelopset_corpus.txt") for m in d.mentions]
    if args.max_train:
        train = train[: args.max_train]
    added = 0
    if args.augment:
        kb, added = add_mention_names(kb, train)
    run(
        "quality_ncbi_disease",
        train,
        dev,
        kb,
        args,
        {
            "train_mentions": len(train),
            "dev_mentions": len(dev),
            "kb": "MEDIC 2012-07-06",
            "training_mention_names_added": added,
            "augmented": args.augment,
        },
    )


if __name__ == "__main__":
    main()
