"""MedMentions (full), official dev split in BIO form, cut into contiguous train/validation blocks.

    python benchmarks/quality_medmentions.py                                   # GPU: everything
    python benchmarks/quality_medmentions.py --max-train 6000 --max-eval 3000  # CPU-sized run

The first 80% of sentences (contiguous) are the training portion, the last 20% the
validation portion (never a random mention split). KB = the distinct surface forms of each
CUI in the training mentions used (less the documents held out for checkpoint choice and the
fusion weight) plus its semantic types (cui-semantic-types); validation
mentions whose CUI never occurs in the training portion are absent from the KB: their share
is reported (kb_coverage) and they stay in every denominator. ``--max-eval`` keeps
validation mentions at an even stride (a representative sample, still never seen in training).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import medmentions_mentions, quiet_libraries  # noqa: E402
from benchmarks.quality_common import add_recipe_arguments, run  # noqa: E402


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-eval", type=int, default=None)
    add_recipe_arguments(
        parser,
        max_length=96,
        context_words=8,
        candidate_types=True,
        same_name_filter=False,
        same_name_why="surface-form KB: a shared name is ambiguity",
    )
    return parser


def dataset(args: argparse.Namespace):
    """(training mentions, evaluation mentions, build_kb, dataset details) for :func:`run`."""
    import random

    from xenc_toolkit.api import block_split, kb_from_mentions

    mentions = medmentions_mentions(context_window=16)
    block_split(mentions, {"train": 0.8, "dev": 0.2})
    train = [m for m in mentions if m.split == "train"]
    dev = [m for m in mentions if m.split == "dev"]
    n_train, n_dev = len(train), len(dev)
    if args.max_train and len(train) > args.max_train:
        train = random.Random(0).sample(train, args.max_train)
    if args.max_eval and len(dev) > args.max_eval:
        stride = len(dev) / args.max_eval
        dev = [dev[int(i * stride)] for i in range(args.max_eval)]

    def build_kb(kept):
        """The surface forms of the training mentions left after the hold-out."""
        return kb_from_mentions(kept, source="MedMentions dev, training-portion surface forms"), {}

    details = {
        "sentences_split": "first 80% train / last 20% validation (contiguous)",
        "train_portion_mentions": n_train,
        "validation_mentions": n_dev,
        "train_mentions_used": len(train),
        "eval_mentions_used": len(dev),
    }
    return train, dev, build_kb, details


def main() -> None:
    args = parser().parse_args()
    quiet_libraries()
    train, dev, build_kb, details = dataset(args)
    run("quality_medmentions", train, dev, build_kb, args, details)


if __name__ == "__main__":
    main()
