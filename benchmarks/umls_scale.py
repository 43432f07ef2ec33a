"""Scale benchmark: load a full-size UMLS release with the default English-only filters.

    python tools/generate_synthetic_umls.py --out /tmp/umls-synthetic/META
    python benchmarks/umls_scale.py --meta /tmp/umls-synthetic/META

Loads the META directory through :func:`xenc_toolkit.kb.load_kb` twice -- cold (an
empty KB cache: parse the RRF files and write the cache) and cached -- each in a
fresh child process, so wall time and peak RSS (``ru_maxrss`` of that child) are
measured cleanly. Goals: cold load < 120 s and peak RSS < 4 GB on a 2-core CPU box.
Writes ``benchmarks/results/umls_scale.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RESULT = Path(__file__).resolve().parent / "results" / "umls_scale.json"
REPO = Path(__file__).resolve().parent.parent


def _child(meta: str, cache_dir: str) -> None:
    """Runs in the child: one load_kb call, then prints its measurements as JSON."""
    import resource
    import time

    from xenc_toolkit.api import load_kb, set_quiet
    from xenc_toolkit.config import KBConfig

    set_quiet(True)
    started = time.perf_counter()
    kb = load_kb(KBConfig(path=Path(meta), cache_dir=Path(cache_dir)))
    seconds = time.perf_counter() - started
    counts = kb.metadata.get("counts", {})
    dropped = counts.get("mrconso_rows_dropped", {})
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "cache_hit": kb.metadata["cache"]["hit"],
                "concepts": kb.n_concepts,
                "names": kb.n_names,
                "aliases": kb.aliases.num_rows,
                "checksum": kb.checksum,
                "mrconso_rows": counts.get("mrconso_rows"),
                "english_rows": None
                if counts.get("mrconso_rows") is None
                else counts["mrconso_rows"] - dropped.get("language", 0),
                "rows_kept": counts.get("mrconso_rows_kept"),
            }
        )
    )


def _run_child(meta: Path, cache_dir: Path) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--meta",
        str(meta),
        "--cache-dir",
        str(cache_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--meta", type=Path, required=True, help="META directory (e.g. from generate_synthetic_umls.py)"
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULT, help="result JSON")
    args = parser.parse_args()
    if args.child:
        _child(str(args.meta), str(args.cache_dir))
        return

    meta = args.meta.resolve()
    mrconso = meta / "MRCONSO.RRF"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="xenc-kb-cache-") as cache_dir:
        cold = _run_child(meta, Path(cache_dir))
        cached = _run_child(meta, Path(cache_dir))
        cache_bytes = sum(f.stat().st_size for f in Path(cache_dir).rglob("*") if f.is_file())
    if cold["cache_hit"] or not cached["cache_hit"] or cold["checksum"] != cached["checksum"]:
        raise SystemExit(f"unexpected cache behaviour: cold={cold} cached={cached}")
    figures = {
        "mrconso_rows": cold["mrconso_rows"],
        "mrconso_gb": round(mrconso.stat().st_size / 1e9, 3),
        "english_rows": cold["english_rows"],
        "rows_kept": cold["rows_kept"],
        "concepts": cold["concepts"],
        "names": cold["names"],
        "retired_aliases": cold["aliases"],
        "load_seconds": round(cold["seconds"], 1),
        "cached_load_seconds": round(cached["seconds"], 2),
        "peak_rss_gb": round(cold["peak_rss_bytes"] / 1e9, 2),
        "cached_peak_rss_gb": round(cached["peak_rss_bytes"] / 1e9, 2),
        "cache_mb": round(cache_bytes / 1e6, 1),
        # other work on the host slows the timings: 1-minute load average before and after
        "host_load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    result = {
        "card": "cpu-2core",
        "date": datetime.date.today().isoformat(),
        "command": "python tools/generate_synthetic_umls.py --out /tmp/umls-synthetic/META "
        "--rows 21385114 --concepts 4000000 && python benchmarks/umls_scale.py --meta /tmp/umls-synthetic/META",
        "figures": figures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    goals = figures["load_seconds"] < 120 and figures["peak_rss_gb"] < 4
    print("goals (load < 120 s, peak RSS < 4 GB):", "met" if goals else "MISSED")


if __name__ == "__main__":
    main()
