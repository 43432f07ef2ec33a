"""Fast scoring, xenc evaluate / calibrate outputs (the results contract) and the Stage-3 Linker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xenc_toolkit.config import CalibrateConfig, EvaluateConfig
from xenc_toolkit.errors import InputFormatError
from xenc_toolkit.linking import Linker
from xenc_toolkit.linking.io import read_link_input, write_link_output
from xenc_toolkit.mining.pairs import load_pairs
from xenc_toolkit.reranker import PairScorer


def test_pair_scorer_equals_cross_encoder_predict(tiny_model, tiny_pipeline):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(tiny_model), device="cpu")
    pairs = load_pairs(tiny_pipeline["pairs"])["dev"]
    queries, candidates = list(pairs["query"]), list(pairs["candidate"])
    ours = PairScorer(model, batch_size=7, max_tokens=200, chunk_size=50).logits(queries, candidates)
    stock = model.predict(list(zip(queries, candidates, strict=True)), activation_fn=torch.nn.Identity(), batch_size=32)
    assert ours.shape == (len(queries),)
    assert np.abs(ours - stock).max() < 1e-4
    # duplicates are scored once but every input gets its score
    doubled = PairScorer(model).logits(queries[:5] * 3, candidates[:5] * 3)
    assert np.allclose(doubled, np.tile(ours[:5], 3), atol=1e-5)


EXPECTED_KEYS = {
    "overall_metrics": {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "specificity",
        "roc_auc",
        "pr_auc",
        "ece",
        "mce",
        "brier_score",
    },
    "linking_metrics": {
        "acc@1",
        "recall@5",
        "recall@6",
        "mrr",
        "retrieval_acc@1",
        "n_mentions",
        "n_gold_in_candidates",
    },
    "stage3_metrics": {"high_confidence_pct", "mean_top_score", "mean_margin", "threshold"},
}


def test_evaluate_writes_the_results_contract(tmp_path, tiny_model, tiny_pipeline):
    from xenc_toolkit import api

    results = api.evaluate(
        EvaluateConfig(
            model_dir=tiny_model,
            pairs_dir=tiny_pipeline["pairs"],
            split="dev",
            output_dir=tmp_path / "results",
            batch_size=32,
        )
    )
    on_disk = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    for section, keys in EXPECTED_KEYS.items():
        assert keys <= set(on_disk[section]), (section, keys - set(on_disk[section]))
    assert on_disk["per_type"], "per-type metrics present"
    some_type = next(iter(on_disk["per_type"].values()))
    assert {"acc@1", "recall@5", "mrr", "n_mentions", "retrieval_acc@1"} <= set(some_type)
    link = results["linking_metrics"]
    assert link["n_mentions"] == 30
    assert link["n_gold_not_in_kb"] + link["n_gold_in_candidates"] + link["n_gold_in_kb_not_in_candidates"] == 30
    for name in ("reliability_diagram.png", "pr_curve.png", "roc_curve.png", "report.md", "report.html"):
        path = tmp_path / "results" / name
        assert path.exists() and path.stat().st_size > 1000, name
    assert (tmp_path / "results" / "reliability_diagram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "results" / "report.md").read_text()
    assert f"{link['acc@1']:.3f}" in report or f"{link['acc@1']:.4f}" in report
    # every wrong mention has exactly one cause, for the reported ranking and the reranker alone
    causes = on_disk["error_causes"]
    wrong = 30 - round(link["acc@1"] * 30)
    assert causes["reported"]["errors"] == wrong
    assert sum(c["mentions"] for c in causes["reported"]["causes"].values()) == wrong
    assert causes["reported"]["causes"]["gold_not_in_kb"]["mentions"] == link["n_gold_not_in_kb"]
    assert causes["reported"]["causes"]["not_in_candidates"]["mentions"] == link["n_gold_in_kb_not_in_candidates"]
    assert "## Errors by cause" in report


def test_calibrate_then_evaluate_uses_the_calibration(tmp_path, tiny_model, tiny_pipeline):
    import shutil

    from xenc_toolkit import api

    model_dir = shutil.copytree(tiny_model, tmp_path / "model")
    result = api.calibrate(
        CalibrateConfig(model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], split="dev", folds=3, min_examples=20)
    )
    assert (model_dir / "xenc_calibration.json").exists()
    assert result["metadata"]["method"] in ("temperature", "platt", "isotonic")
    results = api.evaluate(
        EvaluateConfig(
            model_dir=model_dir, pairs_dir=tiny_pipeline["pairs"], split="dev", output_dir=tmp_path / "results"
        )
    )
    assert results["calibration"]["method"] == result["metadata"]["method"]
    from sentence_transformers import CrossEncoder

    CrossEncoder(str(model_dir), device="cpu")  # still a plain CrossEncoder directory


@pytest.fixture(scope="module")
def linker(tiny_model, tiny_pipeline):
    return Linker.from_pretrained(tiny_model, tiny_pipeline["index"], device="cpu")


def test_linker_links_and_deduplicates(linker, tiny_pipeline):
    kb = tiny_pipeline["kb"]
    name = kb.name_list[0]
    results = linker.link([name, "unrelated words", name], top_k=3)
    assert len(results) == 3
    assert results[0] == results[2]
    first = results[0]
    assert first.concept_id in kb.concept_ids
    assert first.name == kb.preferred_names[kb.resolve(first.concept_id)]
    assert 0.0 <= first.probability <= 1.0
    assert first.tier in ("high", "review", "low")
    probs = [c.probability for c in first.alternatives]
    assert probs == sorted(probs, reverse=True) and len(probs) == 3
    assert first.margin == pytest.approx(probs[0] - probs[1])


def test_linker_type_filter(linker, tiny_pipeline):
    kb = tiny_pipeline["kb"]
    result = linker.link([kb.name_list[0]], types=[["T999"]])[0]
    assert result.type_filter_relaxed  # no candidate of that type: all kept, and said so
    concept = kb.resolve(result.concept_id)
    wanted = kb.types_of(concept)[0]
    filtered = linker.link([kb.name_list[0]], types=[[wanted]], top_k=10)[0]
    assert all(wanted in c.types for c in filtered.alternatives)


def test_link_io_formats(tmp_path):
    (tmp_path / "m.txt").write_text("aspirin\n\nheart attack\n")
    assert [r.mention for r in read_link_input(tmp_path / "m.txt")] == ["aspirin", "heart attack"]
    (tmp_path / "m.tsv").write_text("mention\tcontext\ttypes\naspirin\ttook aspirin daily\tT121,T109\n")
    record = read_link_input(tmp_path / "m.tsv")[0]
    assert (record.mention, record.context, record.types) == ("aspirin", "took aspirin daily", ("T121", "T109"))
    (tmp_path / "m.jsonl").write_text('{"mention": "MI", "left_context": "an acute", "right_context": "."}\n{bad\n')
    with pytest.raises(InputFormatError, match=r"m\.jsonl:2: invalid JSON"):
        read_link_input(tmp_path / "m.jsonl")
    (tmp_path / "bad.tsv").write_text("a\tb\tc\td\n")
    with pytest.raises(InputFormatError, match=r"bad\.tsv:1"):
        read_link_input(tmp_path / "bad.tsv")


def test_link_output_files(tmp_path, linker):
    (tmp_path / "in.tsv").write_text("aspirin\tpatients took aspirin\nMI\n")
    records = read_link_input(tmp_path / "in.tsv")
    results = linker.link([r.mention for r in records], contexts=[r.context for r in records])
    write_link_output(records, results, tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["mention"] for r in rows] == ["aspirin", "MI"]
    assert {"concept_id", "name", "probability", "margin", "tier", "alternatives"} <= set(rows[0])
    write_link_output(records, results, tmp_path / "out.tsv")
    assert (tmp_path / "out.tsv").read_text().splitlines()[0].split("\t")[:3] == ["id", "mention", "concept_id"]


@pytest.mark.parametrize("max_length", [8, 17, 48, 128])
def test_pair_tokenizer_equals_the_tokenizer(tiny_model, tiny_pipeline, max_length):
    from transformers import AutoTokenizer

    from xenc_toolkit.reranker.pair_tokenizer import PairTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    pairs = load_pairs(tiny_pipeline["pairs"])["train"]
    queries = [f"{q} with some extra context words {i % 7}" for i, q in enumerate(pairs["query"])]
    candidates = list(pairs["candidate"])
    fast = PairTokenizer(tokenizer, max_length)
    assert fast.template is not None  # BERT: the fast path is used
    ours = fast(queries, candidates)
    reference = tokenizer(
        queries, candidates, truncation="longest_first", max_length=max_length, padding="longest", return_tensors="np"
    )
    order = ours["order"]
    assert np.array_equal(ours["input_ids"], reference["input_ids"][order])
    assert np.array_equal(ours["token_type_ids"], reference["token_type_ids"][order])
    assert np.array_equal(ours["lengths"], reference["attention_mask"][order].sum(1))


def test_longest_first_rule_matches_the_rust_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    from xenc_toolkit.reranker.pair_tokenizer import truncate_longest_first

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    a_id, b_id = tokenizer.convert_tokens_to_ids("a"), tokenizer.convert_tokens_to_ids("b")
    for max_length in (7, 8, 20, 21):
        grid = [(a, b) for a in range(1, max_length + 3) for b in range(1, max_length + 3)]
        encoded = tokenizer(
            [" ".join(["a"] * a) for a, _ in grid],
            [" ".join(["b"] * b) for _, b in grid],
            truncation="longest_first",
            max_length=max_length,
        )["input_ids"]
        expected = np.array([(ids.count(a_id), ids.count(b_id)) for ids in encoded])
        ta, tb = truncate_longest_first(np.array([a for a, _ in grid]), np.array([b for _, b in grid]), max_length - 3)
        assert np.array_equal(np.stack([ta, tb], 1), expected)


def test_longest_first_python_rule_matches_token_at_a_time_removal():
    """The rule of transformers releases that truncate in Python: drop one token from the longer side
    (the second on a tie) until the pair fits."""
    from xenc_toolkit.reranker.pair_tokenizer import truncate_longest_first

    for budget in (4, 5, 17, 18):
        grid = [(a, b) for a in range(0, budget + 4) for b in range(0, budget + 4)]
        expected = []
        for a, b in grid:
            while a + b > budget:
                if a > b:
                    a -= 1
                else:
                    b -= 1
            expected.append((a, b))
        ta, tb = truncate_longest_first(
            np.array([a for a, _ in grid]), np.array([b for _, b in grid]), budget, rule="python"
        )
        assert np.array_equal(np.stack([ta, tb], 1), np.array(expected))
