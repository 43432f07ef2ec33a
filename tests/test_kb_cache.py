"""load_kb: format detection, the Parquet cache (keys, hits, env override, lenient replay), saved KBs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from xenc_toolkit.config import KBConfig
from xenc_toolkit.errors import ConfigError, InputFormatError, MissingInputError, SkipReport
from xenc_toolkit.kb import KBCache, cache_key, default_cache_dir, detect_format, load_kb
from xenc_toolkit.kb import loader as loader_module

DATA = Path(__file__).parent / "data"
META = DATA / "umls" / "META"
MEDIC = DATA / "dictionaries" / "medic_sample.txt"
TSV = DATA / "dictionaries" / "sample.tsv"


@pytest.fixture
def meta(tmp_path) -> Path:
    target = tmp_path / "release" / "META"
    shutil.copytree(META, target)
    return target


def test_detect_format(meta, tmp_path):
    assert detect_format(meta) == "umls"
    assert detect_format(meta.parent) == "umls"  # release directory holding META/
    assert detect_format(TSV) == "tsv"
    assert detect_format(MEDIC) == "medic"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot tell the KB format"):
        detect_format(tmp_path / "empty")
    with pytest.raises(MissingInputError):
        detect_format(tmp_path / "absent")


def test_umls_cache_hit_returns_the_same_kb(meta, tmp_path, monkeypatch):
    cfg = KBConfig(path=meta, cache_dir=tmp_path / "cache")
    first = load_kb(cfg)
    assert first.metadata["cache"]["hit"] is False
    cached_dir = Path(first.metadata["cache"]["path"])
    assert (cached_dir / "kb.json").is_file() and (cached_dir / "names.parquet").is_file()
    assert cached_dir.parent == tmp_path / "cache" and cached_dir.name.startswith("umls-")

    monkeypatch.setattr(loader_module, "_parse", lambda *a, **k: pytest.fail("parsed instead of using the cache"))
    second = load_kb(cfg)
    assert second.metadata["cache"] == {"hit": True, "path": str(cached_dir)}
    assert second.checksum == first.checksum
    assert second.concept_ids == first.concept_ids and second.name_list == first.name_list
    assert second.resolve("C0000002") == first.resolve("C0027051")  # aliases survive
    assert second.types_of(second.resolve("C0021641")) == ("T116", "T121", "T125")
    assert second.metadata["type_names"] == {"T999": "Hypothetical Test Type"}


def test_settings_and_inputs_change_the_key(meta, tmp_path):
    cache = tmp_path / "cache"
    base = load_kb(KBConfig(path=meta, cache_dir=cache))
    other = load_kb(KBConfig(path=meta, cache_dir=cache, exclude_sources=["NCI"]))
    assert other.metadata["cache"]["hit"] is False and other.checksum != base.checksum
    defs = load_kb(KBConfig(path=meta, cache_dir=cache, load_definitions=True))
    assert defs.metadata["cache"]["hit"] is False
    assert load_kb(KBConfig(path=meta, cache_dir=cache, languages=["ENG"])).metadata["cache"]["hit"] is True
    # editing an input file makes a new entry
    path = meta / "MRCONSO.RRF"
    path.write_text(
        path.read_text(encoding="utf-8").replace("|Heart Attack|", "|Heart attack, acute|"), encoding="utf-8"
    )
    os.utime(path, (1, 1))
    edited = load_kb(KBConfig(path=meta, cache_dir=cache))
    assert edited.metadata["cache"]["hit"] is False
    assert "Heart attack, acute" in edited.name_list
    assert len(list(cache.iterdir())) == 4


def test_cache_key_parts(meta):
    files = [meta / "MRCONSO.RRF", meta / "MRSTY.RRF"]
    key = cache_key("umls", files, {"languages": ["ENG"]})
    assert key == cache_key("umls", files, {"languages": ["ENG"]})
    assert key != cache_key("umls", files, {"languages": ["SPA"]})
    assert key != cache_key("medic", files, {"languages": ["ENG"]})


def test_env_overrides_the_default_cache_dir(meta, tmp_path, monkeypatch):
    monkeypatch.setenv("XENC_CACHE_DIR", str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    kb = load_kb(KBConfig(path=meta))
    assert Path(kb.metadata["cache"]["path"]).parent == tmp_path / "from-env"
    # an explicit kb.cache_dir wins over the environment
    kb = load_kb(KBConfig(path=meta, cache_dir=tmp_path / "explicit"))
    assert Path(kb.metadata["cache"]["path"]).parent == tmp_path / "explicit"
    monkeypatch.delenv("XENC_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "xenc-toolkit" / "kb"


def test_unreadable_cache_entry_is_rebuilt(meta, tmp_path):
    cfg = KBConfig(path=meta, cache_dir=tmp_path / "cache")
    first = load_kb(cfg)
    cached_dir = Path(first.metadata["cache"]["path"])
    (cached_dir / "names.parquet").write_bytes(b"not parquet")
    again = load_kb(cfg)
    assert again.metadata["cache"]["hit"] is False and again.checksum == first.checksum
    assert load_kb(cfg).metadata["cache"]["hit"] is True


def test_no_cache(meta, tmp_path):
    kb = load_kb(KBConfig(path=meta, cache_dir=tmp_path / "cache"), use_cache=False)
    assert kb.metadata["cache"] == {"hit": False, "path": None}
    assert not (tmp_path / "cache").exists()


def test_lenient_skips_are_replayed_from_the_cache(meta, tmp_path, monkeypatch):
    path = meta / "MRCONSO.RRF"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[9] = "C0000970|ENG|broken"
    path.write_text("\n".join(lines), encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(InputFormatError, match="MRCONSO.RRF:10:"):
        load_kb(KBConfig(path=meta, cache_dir=cache))
    first_report = SkipReport(lenient=True)
    load_kb(KBConfig(path=meta, cache_dir=cache, lenient=True), first_report)
    assert first_report.counts == {"MRCONSO.RRF: wrong number of fields": 1}

    monkeypatch.setattr(loader_module, "_parse", lambda *a, **k: pytest.fail("parsed instead of using the cache"))
    second_report = SkipReport(lenient=True)
    kb = load_kb(KBConfig(path=meta, cache_dir=cache, lenient=True), second_report)
    assert kb.metadata["cache"]["hit"] is True
    assert second_report.counts == first_report.counts
    assert second_report.examples == first_report.examples
    # a strict load never reuses the lenient entry
    monkeypatch.undo()
    with pytest.raises(InputFormatError, match="MRCONSO.RRF:10:"):
        load_kb(KBConfig(path=meta, cache_dir=cache))


def test_dictionaries_through_load_kb(tmp_path):
    cache = tmp_path / "cache"
    medic = load_kb(KBConfig(path=MEDIC, cache_dir=cache))
    assert medic.metadata["source"] == "medic" and medic.resolve("OMIM:600807") is not None
    assert load_kb(KBConfig(path=MEDIC, cache_dir=cache)).metadata["cache"]["hit"] is True
    tsv = load_kb(KBConfig(path=TSV, cache_dir=cache))
    assert tsv.metadata["source"] == "tsv" and tsv.n_concepts == 4
    with pytest.raises(InputFormatError, match="no concepts"):  # a TSV read as MEDIC: every line is bad
        load_kb(KBConfig(path=TSV, format="medic", cache_dir=cache, lenient=True))


def test_semantic_filters_on_dictionaries(tmp_path):
    cache = tmp_path / "cache"
    tsv = load_kb(KBConfig(path=TSV, cache_dir=cache, semantic_groups=["CHEM"]))
    assert tsv.concept_ids == ["C0004057"]
    assert tsv.metadata["counts"]["concepts_dropped_by_semantic_filter"] == 3
    with pytest.raises(ConfigError, match="no types"):
        load_kb(KBConfig(path=MEDIC, cache_dir=cache, semantic_types=["T047"]))


def test_saved_kb_is_read_as_is(meta, tmp_path):
    kb = load_kb(KBConfig(path=meta, cache_dir=tmp_path / "cache"))
    kb.save(tmp_path / "saved")
    assert detect_format(tmp_path / "saved") == "saved"
    loaded = load_kb(KBConfig(path=tmp_path / "saved"))
    assert loaded.checksum == kb.checksum and loaded.n_names == kb.n_names


def test_missing_path(tmp_path):
    with pytest.raises(ConfigError, match="kb.path"):
        load_kb(KBConfig())
    with pytest.raises(MissingInputError):
        load_kb(KBConfig(path=tmp_path / "nope", format="umls"))
    with pytest.raises(MissingInputError, match="MRCONSO.RRF"):
        load_kb(KBConfig(path=tmp_path, format="umls", cache_dir=tmp_path / "cache"))


def test_kbcache_get_put(meta, tmp_path):
    cache = KBCache(tmp_path / "c")
    assert cache.get("umls", "abc") is None
    kb = load_kb(KBConfig(path=meta), use_cache=False)
    path = cache.put("umls", "abc", kb)
    assert path == tmp_path / "c" / "umls-abc"
    assert cache.get("umls", "abc").checksum == kb.checksum
