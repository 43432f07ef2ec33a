"""Where the name encoder's model step can go faster on a GPU: batch size and torch.compile.

    python benchmarks/encode_kernels.py --names 600000

The model step alone (batches tokenised beforehand, as ``index_mine``'s ``model_only`` figure),
BERT-base-sized (random weights, MiniLM's vocabulary), fp16, CLS pooling, names from the same
synthetic KB as ``index_mine`` (real name lengths), for each configuration in one process:

* eager at several batch sizes (rows; token budget 16 x rows);
* ``torch.compile(dynamic=True)`` (Inductor: fused layer norm / GELU / bias / residual kernels),
  default mode and ``max-autotune-no-cudagraphs``, at the batch sizes given.

Reports names/s (wall, after one warm-up pass that includes compilation), the warm-up seconds,
the share of wall time the host spends issuing batches (near 1: the host, not the GPU, limits)
and the largest cosine gap to eager embeddings. With ``--pipeline-batches``, also whole
``encode()`` runs (tokenisation included) at those batch sizes and tokenizer process counts.
Writes ``benchmarks/results/encode_kernels.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bert_base_from_minilm_vocab, quiet_libraries, sync, write_result  # noqa: E402
from benchmarks.index_mine import synthetic_kb  # noqa: E402


def run_config(encoder, model, names, batch: int) -> tuple[float, float, object]:
    """Model-only names/s over ``names`` and GPU-busy share; returns the embeddings too."""
    import torch

    from xenc_toolkit.api import ResultSink

    batches = list(encoder.batches(names, batch, batch * 16, 131072))
    result = torch.empty((len(names), encoder.dimension), dtype=torch.float32, device=encoder.device)
    sink = ResultSink(result)
    issue = 0.0
    sync()
    t = time.perf_counter()
    with torch.inference_mode():
        for ids, lengths, positions in batches:
            t_issue = time.perf_counter()
            sink.put(encoder.embed_batch(model, encoder.device, ids, lengths), positions)
            issue += time.perf_counter() - t_issue
    sync()
    wall = time.perf_counter() - t
    return len(names) / wall, issue / wall, result


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=600_000)
    parser.add_argument("--batches", default="1024,2048,4096,8192")
    parser.add_argument("--compile-batches", default="1024,4096")
    parser.add_argument("--modes", default="default,max-autotune-no-cudagraphs")
    parser.add_argument("--pipeline-batches", default="", help="full encode() runs (tokenisation included)")
    parser.add_argument("--pipeline-processes", default="0,4", help="tokenizer worker processes of those runs")
    parser.add_argument("--pipeline-names", type=int, default=2_000_000)
    args = parser.parse_args()
    quiet_libraries()
    from xenc_toolkit.api import NameEncoder

    work = Path(tempfile.mkdtemp(prefix="xenc-kernels-"))
    kb = synthetic_kb(args.names)
    names = kb.name_list
    model_dir = bert_base_from_minilm_vocab(work / "bert-base", sentence_transformers=True)
    encoder = NameEncoder(str(model_dir), pooling="cls", max_length=25)
    figures, details = {"names": len(names)}, {"torch": torch.__version__}
    reference = None
    for batch in [int(b) for b in args.batches.split(",")]:
        run_config(encoder, encoder.model, names[:50000], batch)  # warm-up
        rate, busy, emb = run_config(encoder, encoder.model, names, batch)
        if reference is None:
            reference = emb
        figures[f"eager_b{batch}_names_per_s"] = round(rate, 1)
        details[f"eager_b{batch}_cpu_issue_share"] = round(busy, 3)
        print(f"eager batch {batch}: {rate:,.0f} names/s, CPU issue share {busy:.2f}", flush=True)
        write_result(
            "encode_kernels", figures, details=details
        )  # after each configuration: a partial run still reports
    for batch in [int(b) for b in args.pipeline_batches.split(",") if b]:
        for processes in [int(p) for p in args.pipeline_processes.split(",")]:
            sample = names * max(1, -(-args.pipeline_names // len(names)))
            sample = sample[: args.pipeline_names]
            encoder.encode(sample[:50000], batch_size=batch, output="torch", tokenizer_processes=0)
            sync()
            t = time.perf_counter()
            encoder.encode(sample, batch_size=batch, output="torch", tokenizer_processes=processes)
            sync()
            rate = len(sample) / (time.perf_counter() - t)
            figures[f"pipeline_b{batch}_p{processes}_names_per_s"] = round(rate, 1)
            print(f"pipeline batch {batch}, tokenizer processes {processes}: {rate:,.0f} names/s", flush=True)
            write_result("encode_kernels", figures, details=details)
    for mode in [m for m in args.modes.split(",") if m]:
        try:
            torch._dynamo.reset()
            compiled = torch.compile(encoder.model, dynamic=True, mode=None if mode == "default" else mode)
            for batch in [int(b) for b in args.compile_batches.split(",")]:
                t = time.perf_counter()
                run_config(encoder, compiled, names[:50000], batch)  # warm-up incl. compilation
                warm = time.perf_counter() - t
                rate, busy, emb = run_config(encoder, compiled, names, batch)
                gap = float(1 - (emb * reference).sum(1).min())
                figures[f"compile_{mode}_b{batch}_names_per_s"] = round(rate, 1)
                details[f"compile_{mode}_b{batch}"] = {
                    "warmup_seconds": round(warm, 1),
                    "cpu_issue_share": round(busy, 3),
                    "max_cosine_gap_to_eager": round(gap, 6),
                    "recompiles_hint": "dynamic=True",
                }
                print(
                    f"compile {mode} batch {batch}: {rate:,.0f} names/s, warm-up {warm:.1f} s, gap {gap:.2e}",
                    flush=True,
                )
                write_result("encode_kernels", figures, details=details)
        except Exception as exc:  # noqa: BLE001 - record why a mode could not run
            details[f"compile_{mode}_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            print(f"compile {mode} failed: {exc}", flush=True)
    write_result("encode_kernels", figures, details=details)


if __name__ == "__main__":
    main()
