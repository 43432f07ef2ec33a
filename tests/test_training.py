"""Training: fast data path equivalence, losses, sampler, exported models, early stopping, resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from transformers import TrainerCallback

from xenc_toolkit.commands.train import per_device_batch_size, train
from xenc_toolkit.config import TrainConfig
from xenc_toolkit.mining.pairs import load_pairs
from xenc_toolkit.training.checkpoints import latest_checkpoint
from xenc_toolkit.training.data import (
    LengthGroupedBatchSampler,
    PretokenizedListCollator,
    PretokenizedPairCollator,
    pretokenize_lists,
    pretokenize_pairs,
)
from xenc_toolkit.training.losses import ListwiseSoftmaxLoss, WeightedBinaryCrossEntropyLoss
from xenc_toolkit.training.trainer import MainProcessEvaluator


@pytest.fixture(scope="module")
def cross_encoder(tiny_bert):
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    return CrossEncoder(str(tiny_bert), num_labels=1, max_length=48, device="cpu")


def test_pretokenized_ids_equal_stock_preprocessing(cross_encoder, tiny_pipeline):
    pairs = load_pairs(tiny_pipeline["pairs"])["train"].select(range(40))
    fast = pretokenize_pairs(pairs, cross_encoder.tokenizer, 48)
    batch = PretokenizedPairCollator(pad_token_id=0, pad_to_multiple_of=1)([fast[i] for i in range(40)])
    stock = cross_encoder.preprocess(list(zip(pairs["query"], pairs["candidate"], strict=True)))
    assert torch.equal(batch["input_ids"], stock["input_ids"])
    assert torch.equal(batch["attention_mask"], stock["attention_mask"])
    assert torch.equal(batch["token_type_ids"], stock["token_type_ids"])
    assert fast["length"] == [int(m.sum()) for m in stock["attention_mask"]]


def test_weighted_bce_equals_stock_bce_and_weights_apply(cross_encoder, tiny_pipeline):
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    pairs = load_pairs(tiny_pipeline["pairs"])["train"].select(range(24))
    labels = torch.tensor(pairs["label"])
    texts = [pairs["query"], pairs["candidate"]]
    stock = BinaryCrossEntropyLoss(cross_encoder)(texts, labels)
    ours_text = WeightedBinaryCrossEntropyLoss(cross_encoder)(texts, labels)
    fast = pretokenize_pairs(pairs, cross_encoder.tokenizer, 48)
    features = PretokenizedPairCollator()([fast[i] for i in range(24)])
    ours_fast = WeightedBinaryCrossEntropyLoss(cross_encoder)([features], features.pop("label"))
    assert ours_text.item() == pytest.approx(stock.item(), abs=1e-6)
    assert ours_fast.item() == pytest.approx(stock.item(), abs=1e-5)  # pad-to-8 changes nothing but rounding
    weights = [2.0 if y else 0.0 for y in pairs["label"]]  # only positives count
    only_pos = WeightedBinaryCrossEntropyLoss(cross_encoder)([*texts, weights], labels)
    with torch.no_grad():
        logits = cross_encoder.predict(
            list(zip(*texts, strict=True)), activation_fn=torch.nn.Identity(), convert_to_tensor=True
        )
    positive = labels == 1
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[positive].float(), labels[positive])
    assert only_pos.item() == pytest.approx(expected.item(), abs=1e-5)


def test_listwise_softmax_loss_by_hand(cross_encoder):
    queries = ["heart attack", "aspirin"]
    lists = [["myocardial infarction", "angina", "stroke"], ["acetylsalicylic acid", "ibuprofen"]]
    labels = [torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0])]
    loss = ListwiseSoftmaxLoss(cross_encoder)([queries, lists], labels)
    with torch.no_grad():
        l1 = cross_encoder.predict([(queries[0], c) for c in lists[0]], activation_fn=torch.nn.Identity())
        l2 = cross_encoder.predict([(queries[1], c) for c in lists[1]], activation_fn=torch.nn.Identity())
    expected = -(torch.log_softmax(torch.tensor(l1), 0)[0] + torch.log_softmax(torch.tensor(l2), 0)[1]) / 2
    assert loss.item() == pytest.approx(expected.item(), abs=1e-4)


def test_pretokenized_lists_collate_to_groups(cross_encoder, tiny_pipeline):
    from xenc_toolkit.mining.pairs import load_candidate_lists

    lists = (
        load_candidate_lists(tiny_pipeline["pairs"], "train")
        .select(range(5))
        .select_columns(["query", "candidate_texts", "labels"])
    )
    tokenized = pretokenize_lists(lists, cross_encoder.tokenizer, 48)
    batch = PretokenizedListCollator()([tokenized[i] for i in range(5)])
    assert batch["group_sizes"].tolist() == [len(c) for c in lists["candidate_texts"]]
    assert batch["input_ids"].shape[0] == sum(len(c) for c in lists["candidate_texts"])
    assert batch["label"].tolist() == [float(y) for ys in lists["labels"] for y in ys]


def test_length_grouped_sampler_is_a_deterministic_permutation():
    from datasets import Dataset

    lengths = list(np.random.default_rng(0).integers(5, 60, size=1000))
    dataset = Dataset.from_dict({"length": lengths})
    sampler = LengthGroupedBatchSampler(dataset, batch_size=32, seed=7, mega=4)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert batches == list(LengthGroupedBatchSampler(dataset, batch_size=32, seed=7, mega=4))
    sampler.set_epoch(1)
    assert list(sampler) != batches  # reshuffled each epoch
    spread = np.mean([np.ptp([lengths[i] for i in b]) for b in batches if len(b) == 32])
    assert spread < 0.5 * np.ptp(lengths)  # batches hold similar lengths
    dropping = LengthGroupedBatchSampler(dataset, batch_size=32, seed=7, mega=4, drop_last=True)
    assert len(list(dropping)) == len(dropping)
    assert all(len(b) == 32 for b in dropping)


def test_length_buckets_widen_for_short_pairs():
    """'auto': mention-only pairs (median <= 16 tokens) share 16-token buckets, longer pairs keep 8."""
    from datasets import Dataset

    from xenc_toolkit.training.data import bucket_tokens

    short = np.random.default_rng(2).integers(4, 14, size=600)  # mention-only pairs: 7-8 tokens typical
    assert bucket_tokens(short) == 16 and bucket_tokens(short + 30) == 8 and bucket_tokens(short, 8) == 8
    with pytest.raises(ValueError, match="positive number of tokens"):
        bucket_tokens(short, 0)
    data = Dataset.from_dict({"length": short.tolist()})
    auto = LengthGroupedBatchSampler(data, batch_size=32, seed=0, mega=8)
    assert auto.granularity == 16 and set(auto.buckets.tolist()) == {1}  # one bucket: batches as random as stock
    fine = LengthGroupedBatchSampler(data, batch_size=32, seed=0, mega=8, granularity=8)
    assert set(fine.buckets.tolist()) == {1, 2}


def test_micro_batches_split_uniform_random_groups_by_length():
    """micro=k: every k consecutive batches are one uniformly random group of k*batch_size, sorted by length."""
    from datasets import Dataset

    lengths = np.random.default_rng(1).integers(3, 40, size=1000)
    dataset = Dataset.from_dict({"length": lengths.tolist(), "label": (lengths > 20).astype(float).tolist()})
    sampler = LengthGroupedBatchSampler(dataset, batch_size=25, seed=5, micro=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 40
    assert sorted(i for b in batches for i in b) == list(range(1000))
    groups = [np.concatenate(batches[i : i + 4]) for i in range(0, 40, 4)]
    # each group is the next slice of the epoch's permutation (stock-like random batches of 100) ...
    perm = np.random.default_rng(5).permutation(1000)
    assert all(sorted(g.tolist()) == sorted(perm[100 * j : 100 * (j + 1)].tolist()) for j, g in enumerate(groups))
    # ... laid out longest first, so each micro-batch pads little
    assert all((np.diff(lengths[g]) <= 0).all() for g in groups)
    micro_spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert micro_spread < 0.5 * np.mean([np.ptp(lengths[g]) for g in groups])
    sampler.set_epoch(1)
    assert list(sampler) != batches
    odd = LengthGroupedBatchSampler(Dataset.from_dict({"length": list(range(110))}), batch_size=25, micro=4)
    assert [len(b) for b in odd] == [25, 25, 25, 25, 10] and len(odd) == 5
    dropping = LengthGroupedBatchSampler(Dataset.from_dict({"length": list(range(110))}), 25, drop_last=True, micro=4)
    assert [len(b) for b in dropping] == [25, 25, 25, 25] and len(dropping) == 4


def test_length_grouped_batches_keep_the_label_mix(cross_encoder, tiny_pipeline):
    """Real mined pairs: batches stay grouped by length, and each keeps the data's share of positives
    (where lengths and labels correlate, plain length order makes batches of mostly one label)."""
    pairs = load_pairs(tiny_pipeline["pairs"])["train"]
    data = pretokenize_pairs(pairs, cross_encoder.tokenizer, 48)
    lengths, labels = np.asarray(data["length"]), np.asarray(data["label"])
    share = labels.mean()

    def label_spread(sampler) -> float:
        return float(np.mean([abs(labels[b].mean() - share) for b in sampler if len(b) == 16]))

    stratified = LengthGroupedBatchSampler(data, batch_size=16, seed=3, mega=8)
    plain = LengthGroupedBatchSampler(data, batch_size=16, seed=3, mega=8, strata_column=None)
    batches = list(stratified)
    assert sorted(i for b in batches for i in b) == list(range(len(data)))
    assert batches == list(LengthGroupedBatchSampler(data, batch_size=16, seed=3, mega=8))
    assert label_spread(stratified) < 0.5 * label_spread(plain)
    assert all(abs(labels[b].sum() - share * len(b)) <= 1.5 for b in batches if len(b) == 16)
    rng = np.random.default_rng(0)
    shuffled_spread = np.mean([np.ptp(lengths[rng.permutation(len(data))[:16]]) for _ in range(200)])
    assert np.mean([np.ptp(lengths[b]) for b in batches if len(b) == 16]) < shuffled_spread  # still grouped


def _cfg(tiny_bert, tiny_pipeline, out, **kw) -> TrainConfig:
    base = dict(
        pairs_dir=tiny_pipeline["pairs"],
        output_dir=out,
        base_model=str(tiny_bert),
        max_length=48,
        batch_size=16,
        learning_rate=5e-4,
        report_to=["none"],
        seed=0,
        max_eval_mentions=30,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.slow
def test_train_exports_plain_cross_encoder_directories(tmp_path, tiny_bert, tiny_pipeline):
    from sentence_transformers import CrossEncoder

    summary = train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "run", epochs=1, report_to=["tensorboard"]))
    for kind in ("best", "final"):
        directory = tmp_path / "run" / kind
        model = CrossEncoder(str(directory), device="cpu")
        scores = model.predict([("heart attack", "myocardial infarction"), ("heart attack", "aspirin")])
        assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1))
        info = json.loads((directory / "xenc_training.json").read_text())
        assert info["config"]["base_model"] == str(tiny_bert)
        assert {"torch", "transformers", "sentence_transformers"} <= set(info["versions"])
        assert (directory / "xenc_input_format.json").exists()
        assert (directory / "README.md").exists()  # model card
    assert summary["metric_for_best_model"] == "eval_dev_acc@1"
    assert summary["best_metric"] is not None
    assert summary["processes"] == 1
    assert summary["per_device_batch_size"] == summary["global_batch_size"] == 16
    assert list((tmp_path / "run" / "runs").rglob("events.out.tfevents.*"))


class ScriptedEvaluator(SentenceEvaluator):
    """An evaluator whose dev metric follows a script (to test early stopping precisely)."""

    def __init__(self, values):
        super().__init__()
        self.primary_metric = "acc@1"
        self.values = list(values)
        self.calls = 0

    def __call__(self, model, output_path=None, epoch=-1, steps=-1):
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return {"dev_acc@1": value}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("values", "patience", "expected_evals"),
    [
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 2, 8),  # always improving: never stops
        ([0.1, 0.3, 0.3, 0.2, 0.9, 0.9, 0.9, 0.9], 2, 4),  # two evaluations without improvement
        ([0.1, 0.3, 0.2, 0.4, 0.3, 0.35, 0.1, 0.1], 3, 7),  # a later improvement resets patience
    ],
)
def test_early_stopping_patience(tmp_path, tiny_bert, tiny_pipeline, values, patience, expected_evals):
    evaluator = ScriptedEvaluator(values)
    summary = train(
        _cfg(
            tiny_bert,
            tiny_pipeline,
            tmp_path / "run",
            max_steps=8,
            eval_steps=1,
            early_stopping_patience=patience,
            save_total_limit=2,
        ),
        evaluator=evaluator,
    )
    assert evaluator.calls == expected_evals
    assert summary["global_step"] == expected_evals
    assert summary["stopped_early"] == (expected_evals < 8)
    assert summary["best_metric"] == pytest.approx(max(values[:expected_evals]))
    best_step = int(np.argmax(values[:expected_evals])) + 1
    assert summary["best_checkpoint"].endswith(f"checkpoint-{best_step}")


class Crash(TrainerCallback):
    def __init__(self, at_step):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(tmp_path, tiny_bert, tiny_pipeline):
    kw = dict(max_steps=12, eval_steps=4, save_total_limit=3, epochs=3)
    full = train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "full", **kw))
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "killed", **kw), callbacks=[Crash(6)])
    assert latest_checkpoint(tmp_path / "killed").name == "checkpoint-4"
    resumed = train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "killed", resume=True, **kw))
    assert resumed["global_step"] == full["global_step"] == 12
    full_evals = [h for h in full["log_history"] if "eval_dev_acc@1" in h]
    resumed_evals = [h for h in resumed["log_history"] if "eval_dev_acc@1" in h]
    assert [h["step"] for h in resumed_evals] == [4, 8, 12]
    for a, b in zip(full_evals, resumed_evals, strict=True):
        assert a["eval_dev_acc@1"] == pytest.approx(b["eval_dev_acc@1"])
        assert a["eval_loss"] == pytest.approx(b["eval_loss"], rel=1e-4)
    from safetensors.torch import load_file

    w_full = load_file(str(tmp_path / "full" / "final" / "model.safetensors"))
    w_resumed = load_file(str(tmp_path / "killed" / "final" / "model.safetensors"))
    assert all(torch.allclose(w_full[k], w_resumed[k], atol=1e-5) for k in w_full)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, tiny_bert, tiny_pipeline):
    from xenc_toolkit.errors import XencError

    with pytest.raises(XencError, match="no checkpoint"):
        train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "empty", resume=True))


def test_warmup_is_a_share_of_total_steps(tiny_bert, tiny_pipeline, tmp_path):
    from xenc_toolkit.commands.train import training_arguments

    args = training_arguments(_cfg(tiny_bert, tiny_pipeline, tmp_path, warmup_ratio=0.25, epochs=2), 320, has_eval=True)
    assert args.warmup_steps == math.ceil(320 / 16) * 2 // 4


def test_warmup_counts_every_data_parallel_process(tiny_bert, tiny_pipeline, tmp_path):
    from xenc_toolkit.commands.train import training_arguments

    cfg = _cfg(tiny_bert, tiny_pipeline, tmp_path, warmup_ratio=0.25, epochs=2)
    one = training_arguments(cfg, 320, has_eval=True, n_processes=1)
    two = training_arguments(cfg, 320, has_eval=True, n_processes=2)
    assert one.warmup_steps == 10  # 20 batches of 16 per epoch, 2 epochs, 25%
    assert two.warmup_steps == 5  # each of 2 processes takes every other batch: 10 steps per epoch
    assert two.per_device_train_batch_size == one.per_device_train_batch_size == 16  # batch_size is per device
    assert two.ddp_find_unused_parameters is False


def test_micro_batches_keep_the_update_and_its_schedule(tiny_bert, tiny_pipeline, tmp_path):
    from xenc_toolkit.commands.train import training_arguments
    from xenc_toolkit.errors import XencError

    whole = training_arguments(_cfg(tiny_bert, tiny_pipeline, tmp_path, warmup_ratio=0.25, epochs=2), 320, True, 1)
    cfg = _cfg(tiny_bert, tiny_pipeline, tmp_path, warmup_ratio=0.25, epochs=2, micro_batches=4)
    micro = training_arguments(cfg, 320, has_eval=True, n_processes=1)
    assert (micro.per_device_train_batch_size, micro.gradient_accumulation_steps) == (4, 4)
    assert micro.warmup_steps == whole.warmup_steps == 10  # same updates: 20 per epoch
    assert micro.per_device_eval_batch_size == whole.per_device_eval_batch_size
    slow = training_arguments(cfg.model_copy(update={"fast": False}), 320, True, 1)  # the stock data path
    assert (slow.per_device_train_batch_size, slow.gradient_accumulation_steps) == (16, 1)
    with pytest.raises(XencError, match="must divide"):
        training_arguments(cfg.model_copy(update={"micro_batches": 3}), 320, True, 1)
    with pytest.raises(XencError, match="global_batch_size"):
        training_arguments(cfg.model_copy(update={"global_batch_size": 32}), 320, True, 2)


@pytest.mark.slow
def test_train_with_micro_batches(tmp_path, tiny_bert, tiny_pipeline):
    summary = train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "run", max_steps=6, micro_batches=2, eval_steps=3))
    state = json.loads((tmp_path / "run" / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and summary["best_dir"]


def test_global_batch_size_is_split_over_processes_and_accumulation():
    from types import SimpleNamespace

    from xenc_toolkit.errors import XencError

    cfg = SimpleNamespace(batch_size=64, gradient_accumulation_steps=2, global_batch_size=256)
    assert per_device_batch_size(cfg, 1) == 128
    assert per_device_batch_size(cfg, 2) == 64
    with pytest.raises(XencError, match="not a multiple"):
        per_device_batch_size(cfg, 3)
    per_device = SimpleNamespace(batch_size=64, gradient_accumulation_steps=2, global_batch_size=None)
    assert per_device_batch_size(per_device, 4) == 64


def test_main_process_evaluator_passes_through_in_one_process():
    inner = ScriptedEvaluator([0.25, 0.5])
    wrapped = MainProcessEvaluator(inner)
    assert wrapped(None, output_path=None, epoch=0, steps=1) == {"dev_acc@1": 0.25}
    assert inner.calls == 1
    assert wrapped.primary_metric == "acc@1" and wrapped.greater_is_better
    wrapped.primary_metric = "dev_acc@1"
    assert inner.primary_metric == "dev_acc@1"
    assert wrapped.values == [0.25, 0.5]  # anything else is the wrapped evaluator's


@pytest.mark.parametrize("quiet", [False, True])
def test_training_progress_is_one_rich_bar_and_quiet_prints_nothing(tmp_path, tiny_bert, tiny_pipeline, capfd, quiet):
    from xenc_toolkit.utils import progress

    previous = progress.is_quiet()
    progress.set_quiet(quiet)
    try:
        capfd.readouterr()
        train(_cfg(tiny_bert, tiny_pipeline, tmp_path / "run", max_steps=4, eval_steps=2))
        out, err = capfd.readouterr()
    finally:
        progress.set_quiet(previous)
    text = out + err
    assert "{'loss'" not in text and "{'eval_" not in text  # no trainer log dicts
    assert "it/s]" not in text  # no tqdm bar
    if quiet:
        assert "step 2:" not in text and "training" not in text
    else:
        assert "step 2: dev_acc@1" in text and "step 4: dev_acc@1" in text
