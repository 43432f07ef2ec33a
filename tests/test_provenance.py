"""Provenance records: written with every artefact, checked wherever artefacts are combined."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xenc_toolkit import api
from xenc_toolkit.calibration import Calibration
from xenc_toolkit.config import CalibrateConfig, EvaluateConfig, MineConfig, TrainConfig
from xenc_toolkit.errors import ArtifactMismatchError
from xenc_toolkit.reranker.model_dir import calibration_file, load_provenance
from xenc_toolkit.retrieval import DenseIndex
from xenc_toolkit.settings import CandidateConfig, EncoderConfig, IndexConfig, NegativesConfig
from xenc_toolkit.utils.provenance import read_record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def other_kb_index(tmp_path_factory, tiny_st, mm_mentions):
    """An index of another KB: the one made from the dev mentions (not the training ones)."""
    from xenc_toolkit.kb.from_corpus import kb_from_mentions

    kb = kb_from_mentions([m for m in mm_mentions if m.split == "dev"])
    root = tmp_path_factory.mktemp("other")
    DenseIndex.build(kb, EncoderConfig(model=str(tiny_st), device="cpu"), IndexConfig(), root / "index")
    return root / "index"


def _mine(index_dir: Path, out: Path, mentions, **settings) -> Path:
    cfg = MineConfig(
        index_dir=index_dir,
        output_dir=out,
        **settings,
        candidates=CandidateConfig(n_candidates=6),
        negatives=NegativesConfig.model_validate({"hard": {"count": 3}, "type": {"count": 1}, "random": {"count": 1}}),
        seed=0,
    )
    api.mine(cfg, mentions_by_split=mentions)
    return out


def test_every_artefact_records_what_it_was_made_from(tiny_pipeline, tiny_model):
    index = read_record(tiny_pipeline["index"])
    kb_checksum = tiny_pipeline["kb"].checksum
    assert index["kind"] == "index" and index["kb"]["checksum"] == kb_checksum
    assert index["encoder"]["pooling"] == "mean" and index["encoder"]["identity"].startswith("sha256:")
    assert read_record(tiny_pipeline["index"] / "kb")["kb"]["checksum"] == kb_checksum

    pairs = read_record(tiny_pipeline["pairs"])
    assert pairs["kind"] == "pairs" and pairs["kb"]["checksum"] == kb_checksum
    assert pairs["inputs"]["index"]["id"] == index["id"]
    assert pairs["encoder"]["identity"] == index["encoder"]["identity"]
    assert pairs["input_format"] and pairs["candidates"]["n_candidates"] == 6

    model = load_provenance(tiny_model)
    assert model["kind"] == "model" and model["inputs"]["pairs"]["id"] == pairs["id"]
    assert model["kb"]["checksum"] == kb_checksum and model["input_format"] == pairs["input_format"]


def test_linker_refuses_an_index_of_another_kb(tiny_model, tiny_pipeline, other_kb_index):
    with pytest.raises(ArtifactMismatchError) as error:
        api.Linker.from_pretrained(tiny_model, other_kb_index, device="cpu")
    message = str(error.value)
    assert str(tiny_model) in message and str(other_kb_index) in message
    assert "KB checksum" in message and "--allow-mismatch" in message
    assert read_record(other_kb_index)["kb"]["checksum"] in message

    linker = api.Linker.from_pretrained(tiny_model, other_kb_index, device="cpu", allow_mismatch=True)
    assert linker.link(["aspirin"])[0].alternatives
    api.Linker.from_pretrained(tiny_model, tiny_pipeline["index"], device="cpu")  # the matching index is accepted


def test_evaluate_and_calibrate_refuse_pairs_of_another_kb(tmp_path, tiny_model, mm_mentions, other_kb_index):
    dev = [m for m in mm_mentions if m.split == "dev"][:30]
    pairs = _mine(other_kb_index, tmp_path / "pairs", {"dev": dev})
    with pytest.raises(ArtifactMismatchError, match="KB checksum"):
        api.evaluate(EvaluateConfig(model_dir=tiny_model, pairs_dir=pairs, split="dev", output_dir=tmp_path / "r"))
    model_dir = shutil.copytree(tiny_model, tmp_path / "model")
    with pytest.raises(ArtifactMismatchError, match="--allow-mismatch"):
        api.calibrate(CalibrateConfig(model_dir=model_dir, pairs_dir=pairs, split="dev", folds=3, min_examples=10))
    assert not calibration_file(model_dir).exists()


def test_a_calibration_fitted_on_another_model_is_refused(tmp_path, tiny_model, tiny_pipeline):
    best = shutil.copytree(tiny_model, tmp_path / "best")
    final = shutil.copytree(tiny_model.parent / "final", tmp_path / "final")  # another export: another model
    api.calibrate(
        CalibrateConfig(model_dir=best, pairs_dir=tiny_pipeline["pairs"], split="dev", folds=3, min_examples=10)
    )
    fitted_on = Calibration.load(calibration_file(best)).metadata["provenance"]["inputs"]["model"]
    assert fitted_on["id"] == load_provenance(best)["id"] != load_provenance(final)["id"]
    shutil.copy(calibration_file(best), calibration_file(final))
    with pytest.raises(ArtifactMismatchError) as error:
        api.Linker.from_pretrained(final, tiny_pipeline["index"], device="cpu")
    assert "calibration" in str(error.value) and str(final) in str(error.value)
    api.Linker.from_pretrained(best, tiny_pipeline["index"], device="cpu")


def test_an_index_whose_encoder_changed_is_refused(tmp_path, tiny_st, tiny_bert, mm_kb):
    encoder = shutil.copytree(tiny_st, tmp_path / "encoder")
    DenseIndex.build(mm_kb, EncoderConfig(model=str(encoder), device="cpu"), IndexConfig(), tmp_path / "index")
    shutil.copy(tiny_bert / "model.safetensors", encoder / "model.safetensors")  # "tuned again" in place
    with pytest.raises(ArtifactMismatchError, match="encoder"):
        DenseIndex.load(tmp_path / "index").encoder(device="cpu")
    assert DenseIndex.load(tmp_path / "index", allow_mismatch=True).encoder(device="cpu") is not None


def test_mine_refuses_a_corpus_annotated_for_another_kb(tmp_path, mm_mentions, tiny_pipeline):
    kb = tiny_pipeline["kb"]
    foreign = [m for m in mm_mentions if m.split == "dev" and all(kb.resolve(g) is None for g in m.gold_ids)][:20]
    assert foreign
    with pytest.raises(ArtifactMismatchError, match="none of its"):
        _mine(tiny_pipeline["index"], tmp_path / "pairs", {"dev": foreign})
    assert not (tmp_path / "pairs").exists()


def test_resume_refuses_other_pairs(tmp_path, tiny_bert, tiny_pipeline, mm_mentions, other_kb_index):
    dev = [m for m in mm_mentions if m.split == "dev"][:30]
    other_pairs = _mine(other_kb_index, tmp_path / "pairs", {"train": dev})
    out = tmp_path / "run"
    common = dict(base_model=str(tiny_bert), max_length=32, batch_size=16, max_steps=2, report_to=["none"], seed=0)
    api.train(TrainConfig(pairs_dir=tiny_pipeline["pairs"], output_dir=out, **common))
    assert read_record(out)["kind"] == "training"
    with pytest.raises(ArtifactMismatchError, match="resume"):
        api.train(TrainConfig(pairs_dir=other_pairs, output_dir=out, resume=True, **common))


def test_training_an_xenc_model_further_refuses_pairs_in_another_format(
    tmp_path, tiny_model, mm_mentions, tiny_pipeline
):
    train = [m for m in mm_mentions if m.split == "train"][:40]
    typed = _mine(tiny_pipeline["index"], tmp_path / "pairs", {"train": train}, input_format={"candidate_types": True})
    cfg = TrainConfig(pairs_dir=typed, output_dir=tmp_path / "run", base_model=str(tiny_model), max_steps=1)
    with pytest.raises(ArtifactMismatchError) as error:
        api.train(cfg)
    assert "input format candidate_types=False in" in str(error.value) and "xenc_input_format.json" in str(error.value)
    assert not (tmp_path / "run" / "final").exists()


def test_cli_names_both_sides_and_the_flag(tmp_path, tiny_model, other_kb_index):
    mentions = tmp_path / "mentions.txt"
    mentions.write_text("aspirin\n", encoding="utf-8")
    argv = [sys.executable, "-m", "xenc_toolkit.cli.main", "link", "--model-dir", str(tiny_model)]
    argv += ["--index-dir", str(other_kb_index), "--input", str(mentions)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert "error:" in output and "--allow-mismatch" in output and str(other_kb_index) in output.replace("\n", "")
    allowed = subprocess.run(argv + ["--allow-mismatch"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    assert "warning" in allowed.stderr + allowed.stdout
