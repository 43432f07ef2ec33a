"""CPU profile of mining after retrieval: candidate lists -> list rows, pairs, negatives, datasets.

    python benchmarks/mining_profile.py --names 600000 --mentions 30000 --baseline ef92f68
    python benchmarks/mining_profile.py --names 600000 --mentions 30000 --cprofile 25

Dense retrieval is left out: the script builds the candidate lists itself and hands them to
``Miner`` in place of ``CandidateGenerator.generate``, so only the post-retrieval part is timed.
KB: :func:`benchmarks.index_mine.synthetic_kb` (real name length and word distributions, ~3
names per concept). Mentions: :func:`benchmarks.index_mine.noisy_mentions`, plus 2% with a second
gold concept, 1% unlinkable and 1% whose gold is not in the KB. Candidate lists look like
lexical retrieval: the names near the gold's name in normalised-name order (so same-name
synonyms of the gold show up, as in real lists), aggregated to concepts by the real
``aggregate_to_concepts``; the gold is retrieved for ~75% of mentions, mostly near the top.

Two runs: ``cold``, a fresh ``Miner`` on a fresh KB mines one mention set (one-off KB
preparation counts), and ``warm``, the same ``Miner`` mines a second set (other mentions, other
lists). Timed phases, per mention: ``mine_split`` (labels, lists, negatives, pair columns),
``datasets`` (Arrow tables) and ``total`` (``Miner(...)`` when cold, + ``Miner.mine``), wall
clock; ``total_cpu`` is the process CPU time of the same span (steadier when other jobs share
the cores).
``--baseline REF`` runs the same measurement on the package as it was at git ``REF`` (in a
subprocess) and records both as ``before`` / ``after``. Results go to
``benchmarks/results/mining_profile.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CODE = os.environ.get("XENC_PROFILE_CODE")
if _CODE:  # a baseline run: import the package from an exported older tree before anything else
    sys.path.insert(0, _CODE)
    import xenc_toolkit  # noqa: F401

sys.path.insert(1 if _CODE else 0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, quiet_libraries, write_result  # noqa: E402


def make_mentions(kb, n: int, seed: int = 1):
    """Noisy KB names as mentions, with a few composite, unlinkable and out-of-KB golds."""
    import dataclasses

    import numpy as np

    from benchmarks.index_mine import noisy_mentions

    rng = np.random.default_rng(seed)
    mentions = noisy_mentions(kb, n, seed=seed)
    draw = rng.random(n)
    extra = rng.integers(0, kb.n_concepts, n)
    out = []
    for i, m in enumerate(mentions):
        if draw[i] < 0.02:
            m = dataclasses.replace(m, gold_ids=(*m.gold_ids, kb.concept_ids[int(extra[i])]))
        elif draw[i] < 0.03:
            m = dataclasses.replace(m, gold_ids=())
        elif draw[i] < 0.04:
            m = dataclasses.replace(m, gold_ids=(f"X{i:07d}",))
        out.append(m)
    return out


def lexical_candidates(kb, mentions, n_candidates: int, seed: int = 2, window: int = 300, hit_rate: float = 0.75):
    """Candidate lists that look like lexical retrieval around the gold's name (see the module docstring)."""
    import numpy as np

    from xenc_toolkit.api import aggregate_to_concepts, normalize_name

    rng = np.random.default_rng(seed)
    keys = np.array([normalize_name(name) for name in kb.name_list], dtype=object)
    order = np.argsort(keys, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    n, k = len(mentions), 4 * n_candidates
    gold = np.array([kb.id_to_index.get(m.gold_ids[0], -1) if m.gold_ids else -1 for m in mentions])
    anchor = np.array(
        [rng.choice(kb.names_of(g)) if g >= 0 else rng.integers(kb.n_names) for g in gold.tolist()], dtype=np.int64
    )
    offsets = rng.integers(-window, window + 1, size=(n, k))
    ids = order[np.clip(position[anchor][:, None] + offsets, 0, len(order) - 1)]
    hit = (rng.random(n) < hit_rate) & (gold >= 0)
    # a miss: no name of the gold in the list; a hit: the anchor name at a rank skewed to the top
    ids = np.where(hit[:, None] | (kb.name_concept[ids] != gold[:, None]), ids, rng.integers(0, kb.n_names, (n, k)))
    rank = np.minimum(rng.geometric(0.5, n) - 1, k - 1)
    rows = np.nonzero(hit)[0]
    ids[rows, rank[rows]] = anchor[rows]
    scores = np.sort(rng.random((n, k)).astype(np.float32), axis=1)[:, ::-1]
    return aggregate_to_concepts(ids, np.ascontiguousarray(scores), kb.name_concept, n_candidates, "dense")


def measure(args) -> dict:
    """Mine a first mention set with a fresh Miner (cold: one-off KB preparation included), then a
    second set with the same Miner (warm), and time both."""
    import cProfile
    import pstats

    from benchmarks.index_mine import synthetic_kb
    from xenc_toolkit.api import Miner
    from xenc_toolkit.config import CandidateConfig, MineConfig, NegativesConfig

    t = time.perf_counter()
    kb = synthetic_kb(args.names)
    sets = [make_mentions(kb, args.mentions, seed=seed) for seed in (1, 3)]
    candidate_lists = [
        lexical_candidates(kb, mentions, args.candidates, seed=seed)
        for mentions, seed in zip(sets, (2, 4), strict=True)
    ]
    setup_s = time.perf_counter() - t
    cfg = MineConfig(
        candidates=CandidateConfig(generator="dense", n_candidates=args.candidates),
        negatives=NegativesConfig.model_validate(
            {
                "hard": {"count": 8, "sampling": args.hard_sampling},
                "type": {"count": 2, "mode": args.type_mode},
                "random": {"count": 1},
            }
        ),
        seed=args.seed,
    )
    phases = {"mine_split": 0.0, "datasets": 0.0}
    original_split, original_datasets = Miner.mine_split, Miner.datasets

    def timed(key, function):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            try:
                return function(*a, **kw)
            finally:
                phases[key] += time.perf_counter() - start

        return wrapper

    Miner.mine_split, Miner.datasets = timed("mine_split", original_split), timed("datasets", original_datasets)
    queue = list(candidate_lists)

    def generate(texts, dense_texts=None):
        lists = queue.pop(0)
        return {"dense": lists, "final": lists}

    out: dict = {}
    for run, mentions in zip(("cold", "warm"), sets, strict=True):
        phases.update(mine_split=0.0, datasets=0.0)
        profiler = cProfile.Profile() if args.cprofile and run == args.cprofile_run else None
        start, cpu_start = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        if run == "cold":
            miner = Miner(kb, cfg, dense_index=object())  # never searched: the candidate lists are given
            miner.generator.generate = generate
        result = miner.mine({"train": mentions})
        if profiler:
            profiler.disable()
        total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(args.cprofile)
        n = len(mentions)
        figures = {f"{k}_ms_per_mention": round(1000 * v / n, 4) for k, v in phases.items()}
        figures["total_ms_per_mention"] = round(1000 * total / n, 4)
        figures["total_cpu_ms_per_mention"] = round(1000 * cpu / n, 4)
        figures["total_seconds"] = round(total, 3)
        report = result.report["splits"]["train"]
        lists = result.candidates["train"]
        figures.update(
            {
                "pairs": report["pairs"],
                "pairs_total": report["pairs_total"],
                "list_entries": int(sum(len(c) for c in lists["candidate_ids"])),
                "gold_inserted": int(sum(lists["gold_inserted"])),
                "train_list_synonyms_dropped": report.get("train_list_synonyms_dropped", 0),
                "recall": report["recall"],
            }
        )
        out[run] = figures
    out["false_negatives_filtered"] = result.report["false_negatives_filtered"]  # both runs together
    out["setup_seconds"] = round(setup_s, 1)
    return out


def baseline(ref: str, argv: list[str]) -> dict:
    """The same measurement on the package at git ``ref`` (exported to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="xenc-baseline-") as tmp:
        archive = subprocess.run(["git", "archive", ref, "xenc_toolkit"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        env = {**os.environ, "XENC_PROFILE_CODE": tmp}
        out = subprocess.run(
            [sys.executable, __file__, *argv, "--print-only"], env=env, check=True, capture_output=True, text=True
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=600_000)
    parser.add_argument("--mentions", type=int, default=30_000)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--hard-sampling", choices=["top", "random"], default="top")
    parser.add_argument("--type-mode", choices=["same", "different"], default="same")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline", metavar="REF", help="also measure the package at this git ref (before)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="print the top N cProfile lines")
    parser.add_argument("--cprofile-run", choices=["cold", "warm"], default="cold", help="the run --cprofile profiles")
    parser.add_argument("--print-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet_libraries()
    figures = measure(args)
    if args.print_only:
        print(json.dumps(figures))
        return
    shared = [a for a in sys.argv[1:] if not a.startswith("--baseline") and a != args.baseline]
    profiling = ("--cprofile", "--cprofile-run")
    shared = [a for i, a in enumerate(shared) if not (a in profiling or (i and shared[i - 1] in profiling))]
    result = {"after": figures}
    details = {
        "kb_names": args.names,
        "mentions": args.mentions,
        "candidates": args.candidates,
        "what": "post-retrieval mining (candidate lists given). cold: a fresh Miner on a fresh KB mines one "
        "mention set (one-off KB preparation included); warm: the same Miner mines a second set",
    }
    if args.baseline:
        result["before"] = baseline(args.baseline, shared)
        details["baseline_ref"] = subprocess.run(
            ["git", "rev-parse", "--short", args.baseline], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        for run in ("cold", "warm"):
            result[f"speedup_{run}"] = round(result["before"][run]["total_seconds"] / figures[run]["total_seconds"], 1)
    write_result("mining_profile", result, details)


if __name__ == "__main__":
    main()
