"""Hub model ids fail in seconds offline; a model given as an option brings its own pooling (issue #21)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from xenc_toolkit.config import BuildIndexConfig, TuneEncoderConfig, load_config
from xenc_toolkit.errors import XencError
from xenc_toolkit.retrieval.encoder import NameEncoder, resolve_pooling
from xenc_toolkit.utils import hub

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "configs" / "medmentions_umls.yaml"


def test_an_uncached_hub_model_fails_fast_with_advice_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(XencError) as error:
        NameEncoder("some-org/a-model-nobody-cached", device="cpu")
    assert time.perf_counter() - started < 5
    message = str(error.value)
    assert "some-org/a-model-nobody-cached" in message and "huggingface-cli download" in message
    assert "HF_HUB_OFFLINE" in message


def test_an_unreachable_hub_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "HUB_HOST", "hub.invalid")  # .invalid never resolves
    started = time.perf_counter()
    with pytest.raises(XencError, match="cannot be reached"):
        hub.check_model_available("some-org/another-model")
    assert time.perf_counter() - started < 10


def test_local_directories_pass(tiny_st):
    hub.check_model_available(str(tiny_st))  # no error, no network


def test_a_model_option_resets_the_files_pooling_to_the_models_own(tiny_st):
    from_file = load_config(BuildIndexConfig, CONFIG)
    assert from_file.encoder.pooling == "cls"  # SapBERT in the file: CLS
    swapped = load_config(BuildIndexConfig, CONFIG, {"encoder.model": str(tiny_st)})
    assert swapped.encoder.pooling == "auto"
    assert resolve_pooling(str(tiny_st), swapped.encoder.pooling) == "mean"  # the tiny model's 1_Pooling says mean
    both = load_config(BuildIndexConfig, CONFIG, {"encoder.model": str(tiny_st), "encoder.pooling": "cls"})
    assert both.encoder.pooling == "cls"  # set explicitly: kept
    tuned = load_config(TuneEncoderConfig, None, {"base_model": str(tiny_st)})
    assert tuned.pooling == "auto"


def test_a_cached_hub_models_own_pooling_is_read_from_its_snapshot(tiny_st, tiny_bert, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants

    commit = "0" * 40
    for name, source in (("org/tiny-st", tiny_st), ("org/tiny-bert", tiny_bert)):
        repo = tmp_path / f"models--{name.replace('/', '--')}"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        shutil.copytree(source, repo / "snapshots" / commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert hub.cached_snapshot("org/tiny-st") == str(tmp_path / "models--org--tiny-st" / "snapshots" / commit)
    assert resolve_pooling("org/tiny-st") == "mean"  # its 1_Pooling, from the cache, not CLS
    assert resolve_pooling("org/tiny-st", "cls") == "cls"  # set by the user: kept
    assert resolve_pooling("org/tiny-bert") == "cls"  # a plain Hugging Face model
    assert hub.cached_snapshot("org/not-cached") is None
