"""Scoring throughput: stock ``CrossEncoder.predict`` vs xenc's ``PairScorer`` (what Linker/evaluate use).

    python benchmarks/predict_throughput.py --pairs 200000

Throughput: the same bf16 BERT-base-sized CrossEncoder (random weights), the same real
MedMentions pairs (mention with +-16 words of context vs a candidate name; and mention-only),
the same run. Fidelity: the largest absolute difference between the two paths' probabilities,
on the real all-MiniLM-L6-v2 body with a widened random head (its scores spread over (0, 1);
a random-weight BERT's do not). Writes ``benchmarks/results/predict_throughput.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    bert_base_from_minilm_vocab,
    mine_medmentions_pairs,
    minilm_path,
    quiet_libraries,
    sync,
    write_result,
)


def host_device_breakdown(scorer, queries, candidates) -> dict:
    """Where the scorer's time goes: tokenising alone, and the model alone on tensors already on the device."""
    import torch

    from xenc_toolkit.api import dedupe_pairs

    out = {}
    t = time.perf_counter()
    unique, _ = dedupe_pairs(queries, candidates)
    out["dedupe_seconds"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    chunk = scorer.pair_tokenizer([p[0] for p in unique], [p[1] for p in unique])
    out["tokenize_seconds"] = round(time.perf_counter() - t, 3)
    batches = [{k: v.to(scorer.device) for k, v in features.items()} for _, features in scorer.batches(chunk)]
    sync()
    device_type = torch.device(scorer.device).type
    with torch.inference_mode():
        for rep in range(2):  # the first pass warms every shape up
            sync()
            t = time.perf_counter()
            for feats in batches:
                with torch.autocast(device_type=device_type, dtype=scorer.dtype, enabled=scorer.dtype != torch.float32):
                    scorer.model(feats)["scores"]
            sync()
            out[f"model_only_seconds_pass{rep + 1}"] = round(time.perf_counter() - t, 3)
    out["batches"] = len(batches)
    pt = scorer.pair_tokenizer
    out["pair_tokenizer"] = {
        "fast_path": pt.template is not None,
        "private_backend": pt.backend is not None,
        "fallback_reason": pt.fallback_reason,
        "threads": pt.threads,
        "truncation_rule": pt.truncation_rule,
        "tokenizers": __import__("tokenizers").__version__,
        "transformers": __import__("transformers").__version__,
    }
    out["model_only_pairs_per_s"] = round(len(unique) / out["model_only_seconds_pass2"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200000)
    parser.add_argument("--stock-batch", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    quiet_libraries()
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder

    from xenc_toolkit.api import PairScorer

    work = Path(tempfile.mkdtemp(prefix="xenc-predict-bench-"))
    base = bert_base_from_minilm_vocab(work / "bert-base", layers=args.layers, hidden=args.hidden)
    model = CrossEncoder(str(base), num_labels=1, max_length=128)
    with torch.no_grad():
        model.model.classifier.weight.mul_(60.0)  # spread the random scores over (0, 1)
    model.save_pretrained(str(work / "ce"))
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = CrossEncoder(str(work / "ce"), model_kwargs={"torch_dtype": dtype})
    figures, details = {}, {"model": {"layers": args.layers, "hidden": args.hidden, "dtype": str(dtype)}}
    for setting in ("ctx", "noctx"):
        train, dev = mine_medmentions_pairs(setting == "ctx", max_mentions=70000)
        pairs = train.select(range(min(args.pairs, len(train))))
        queries, candidates = list(pairs["query"]), list(pairs["candidate"])
        unique = len(set(zip(queries, candidates, strict=True)))
        warm = list(zip(queries[:2048], candidates[:2048], strict=True))
        model.predict(warm, batch_size=args.stock_batch, show_progress_bar=False)
        sync()
        t = time.perf_counter()
        stock = model.predict(
            list(zip(queries, candidates, strict=True)), batch_size=args.stock_batch, show_progress_bar=False
        )
        sync()
        stock_s = time.perf_counter() - t
        scorer = PairScorer(model, batch_size=args.batch, max_tokens=args.batch * 48)
        scorer.logits(queries[:2048], candidates[:2048])
        sync()
        t = time.perf_counter()
        logits = scorer.logits(queries, candidates)
        sync()
        ours_s = time.perf_counter() - t
        ours = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        diff = float(np.max(np.abs(ours - np.asarray(stock, dtype=np.float64))))
        breakdown = host_device_breakdown(scorer, queries, candidates)
        figures[f"stock_pairs_per_s_{setting}"] = round(len(queries) / stock_s, 1)
        figures[f"xenc_pairs_per_s_{setting}"] = round(len(queries) / ours_s, 1)
        figures[f"max_abs_score_diff_{setting}"] = diff
        details[setting] = {
            "pairs": len(queries),
            "unique_pairs": unique,
            "stock_seconds": round(stock_s, 2),
            "xenc_seconds": round(ours_s, 2),
            "score_std": float(np.std(stock)),
            "breakdown": breakdown,
        }
        print(setting, figures, details[setting], flush=True)
    # Score fidelity on a model whose scores actually spread: a random-weight BERT's [CLS] barely varies with
    # its input, so the same check runs on the real all-MiniLM-L6-v2 body with a widened random head.
    fidelity = CrossEncoder(minilm_path(), num_labels=1, max_length=128)
    with torch.no_grad():
        fidelity.model.classifier.weight.mul_(60.0)
    fidelity.save_pretrained(str(work / "minilm-ce"))
    fidelity = CrossEncoder(str(work / "minilm-ce"), model_kwargs={"torch_dtype": dtype})
    train, _ = mine_medmentions_pairs(True, max_mentions=70000)
    sample = train.select(range(min(20000, len(train))))
    pairs = list(zip(sample["query"], sample["candidate"], strict=True))
    stock = np.asarray(fidelity.predict(pairs, batch_size=args.stock_batch, show_progress_bar=False), dtype=np.float64)
    logits = PairScorer(fidelity, batch_size=args.batch).logits(sample["query"], sample["candidate"])
    ours = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    figures["max_abs_score_diff"] = float(np.max(np.abs(ours - stock)))
    # the same check in fp32: what is left of the difference is bf16 rounding (batches are padded differently)
    exact = CrossEncoder(str(work / "minilm-ce"), model_kwargs={"torch_dtype": torch.float32})
    few = pairs[:4000]
    stock32 = np.asarray(exact.predict(few, batch_size=args.stock_batch, show_progress_bar=False), dtype=np.float64)
    logits32 = PairScorer(exact, batch_size=args.batch, precision="fp32").logits(
        [p[0] for p in few], [p[1] for p in few]
    )
    fp32_diff = float(np.max(np.abs(1.0 / (1.0 + np.exp(-logits32.astype(np.float64))) - stock32)))
    details["fidelity"] = {
        "model": "all-MiniLM-L6-v2 body, widened random head",
        "pairs": len(pairs),
        "score_std": float(np.std(stock)),
        "dtype": str(dtype),
        "fp32_max_abs_diff": fp32_diff,
        "bert_base_max_abs_diff": max(figures.pop("max_abs_score_diff_ctx"), figures.pop("max_abs_score_diff_noctx")),
    }
    write_result("predict_throughput", {k: figures[k] for k in sorted(figures)}, details, out_dir=args.out)


if __name__ == "__main__":
    main()
