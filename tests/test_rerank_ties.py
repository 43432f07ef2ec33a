"""The reranker ranks candidates by raw logit, never by calibrated probability.

Isotonic calibration is monotone but flat over ranges of logits: candidates a model tells apart
get one probability. Ranking by those would silently fall back to retrieval order, so evaluation
and the Linker rank by logit and evaluation counts the lists whose top two probabilities tie. Also:
a mention with several gold ids (composite ``D01|D02`` / ``D01+D02``) is right when the top
candidate is any of them.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from xenc_toolkit import api
from xenc_toolkit.config import CalibrateConfig, EvaluateConfig
from xenc_toolkit.linking import Linker
from xenc_toolkit.reranker.ranking import gold_rank, rerank_ranks


@pytest.fixture(scope="module")
def isotonic_model(tmp_path_factory, tiny_model, tiny_pipeline):
    """The tiny model with an isotonic calibration fitted on the dev lists (no fusion)."""
    model_dir = shutil.copytree(tiny_model, tmp_path_factory.mktemp("iso") / "model")
    api.calibrate(
        CalibrateConfig(
            model_dir=model_dir,
            pairs_dir=tiny_pipeline["pairs"],
            split="dev",
            methods=["isotonic"],
            folds=3,
            min_examples=20,
            fit_fusion=False,
        )
    )
    return model_dir


def _evaluate(model_dir, pairs_dir, out):
    cfg = EvaluateConfig(model_dir=model_dir, pairs_dir=pairs_dir, split="dev", output_dir=out, html=False)
    return api.evaluate(cfg)


def test_evaluation_ranks_the_reranker_by_logit(tmp_path, tiny_model, tiny_pipeline, isotonic_model):
    calibrated = _evaluate(isotonic_model, tiny_pipeline["pairs"], tmp_path / "iso")
    plain = _evaluate(tiny_model, tiny_pipeline["pairs"], tmp_path / "plain")
    assert calibrated["calibration"]["method"] == "isotonic"
    # the isotonic map has plateaus on this model: more lists' top two probabilities tie
    assert calibrated["counts"]["tied_top_probabilities"] > plain["counts"]["tied_top_probabilities"]
    # ranking (and so every linking figure) is that of the logits, whatever the calibration
    assert calibrated["linking_metrics"] == plain["linking_metrics"]
    assert calibrated["per_type"] == plain["per_type"]


def test_linker_orders_alternatives_by_logit(isotonic_model, tiny_pipeline):
    linker = Linker.from_pretrained(isotonic_model, tiny_pipeline["index"], device="cpu")
    assert linker.calibration is not None and linker.calibration.method == "isotonic"
    kb = tiny_pipeline["kb"]
    results = linker.link(kb.name_list[:40], top_k=6)
    ties = 0
    for result in results:
        logits = [c.logit for c in result.alternatives]
        probabilities = [c.probability for c in result.alternatives]
        assert logits == sorted(logits, reverse=True)
        assert probabilities == sorted(probabilities, reverse=True)  # calibration is monotone
        ties += len(probabilities) - len(set(probabilities))
    assert ties > 0, "no tied probabilities: the test would not see a ranking by probability"


def test_ties_keep_retrieval_order_and_several_golds_count_as_one_hit():
    # equal scores: the stable sort keeps retrieval order, never favouring the gold
    assert gold_rank(np.array([0.2, 0.2, 0.2]), [0, 0, 1]) == 2
    # a composite mention (gold ids D01 and D02, both in the list): the best-ranked gold counts
    scores = [np.array([0.1, 0.9, 0.5]), np.array([0.9, 0.1, 0.5])]
    labels = [[1, 0, 1], [0, 1, 1]]
    assert rerank_ranks(scores, labels).tolist() == [1, 1]
    assert rerank_ranks([np.array([0.3, 0.9, 0.8])], [[0, 1, 1]]).tolist() == [0]


def test_composite_ids_from_pubtator_label_every_gold_as_a_positive(tmp_path, tiny_st):
    """``D01|D02`` and ``D01+D02`` (NCBI-disease) give two gold ids; mining labels both positive."""
    from xenc_toolkit.config import CandidateConfig, EncoderConfig, IndexConfig, MineConfig
    from xenc_toolkit.corpora import read_pubtator
    from xenc_toolkit.kb.model import ConceptRecord, KnowledgeBase
    from xenc_toolkit.retrieval import DenseIndex

    title = "Breast and ovarian cancer in BRCA1 carriers"
    abstract = "Hereditary breast and ovarian cancer."
    text = f"{title} {abstract}"
    start = text.index("breast and ovarian cancer", len(title))
    end = start + len("breast and ovarian cancer")
    corpus = tmp_path / "ncbi.txt"
    corpus.write_text(
        f"1|t|{title}\n1|a|{abstract}\n"
        f"1\t0\t25\tBreast and ovarian cancer\tCompositeMention\tD001943|D010051\n"
        f"1\t{start}\t{end}\tbreast and ovarian cancer\tCompositeMention\tD001943+D010051\n\n",
        encoding="utf-8",
    )
    mentions = [m for doc in read_pubtator(corpus) for m in doc.mentions]
    assert [m.gold_ids for m in mentions] == [("D001943", "D010051")] * 2
    kb = KnowledgeBase.from_records(
        [
            ConceptRecord("D001943", ["Breast Neoplasms", "breast cancer"]),
            ConceptRecord("D010051", ["Ovarian Neoplasms", "ovarian cancer"]),
            ConceptRecord("D009369", ["Neoplasms", "cancer"]),
        ]
    )
    index = DenseIndex.build(kb, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig())
    for m in mentions:
        m.split = "dev"
    cfg = MineConfig(output_dir=tmp_path / "pairs", candidates=CandidateConfig(n_candidates=3), splits=["dev"])
    api.mine(cfg, index=index, mentions_by_split={"dev": mentions})
    from xenc_toolkit.mining.pairs import load_candidate_lists

    lists = load_candidate_lists(tmp_path / "pairs", "dev")
    for row in lists:
        positives = {cid for cid, label in zip(row["candidate_ids"], row["labels"], strict=True) if label}
        assert positives == {"D001943", "D010051"}
        assert row["gold_rank"] == min(i for i, label in enumerate(row["labels"]) if label)
